"""The embedded AWS provisioned from infra/template.yaml has what the handlers rely on."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from chalicelib import resources
from infra.local.stack import (
    TEMPLATE_PATH,
    LocalStack,
    _load_template,
    provision,
    start_moto,
    stop_moto,
    write_api_token_hash,
    write_secret,
)

ENV_KEYS = {
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "SELLEROPS_STAGE",
    "ORDERS_TABLE",
    "BUYER_DATA_TABLE",
    "SHIPMENTS_TABLE",
    "FULFILLMENT_ORDERS_TABLE",
    "INVOICES_TABLE",
    "STOCK_TABLE",
    "SETTLEMENTS_TABLE",
    "ALERTS_TOPIC_ARN",
    "STATE_TABLE",
    "INTAKE_QUEUE_URL",
    "INTAKE_DLQ_URL",
    "TASK_QUEUE_URL",
    "TASK_DLQ_URL",
    "WORK_QUEUE_URL",
    "WORK_DLQ_URL",
    "INVOICE_BUCKET",
    "DATA_KEY_ID",
    "SPAPI_SECRET_ID",
    "API_TOKEN_HASH_PARAMETER",
    "PAGE_TOKEN_KEY_PARAMETER",
}


@pytest.fixture(scope="module")
def stack() -> LocalStack:
    endpoint_url = start_moto(port=0)
    started = time.perf_counter()
    provisioned = provision(endpoint_url, stage="itest")
    provisioned.provision_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    yield provisioned
    stop_moto(endpoint_url)


@pytest.fixture(scope="module")
def template() -> dict:
    return _load_template(TEMPLATE_PATH.read_text(encoding="utf-8"))


def _key_schema(description: dict) -> dict[str, str]:
    return {k["AttributeName"]: k["KeyType"] for k in description["KeySchema"]}


def _receive_one(sqs, queue_url: str) -> dict | None:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
    return messages[0] if messages else None


# ------------------------------------------------------------------------------------ tables


def test_orders_table_is_keyed_by_order_id_with_one_list_index(stack):
    table = stack.client("dynamodb").describe_table(TableName=stack.outputs["OrdersTableName"])[
        "Table"
    ]

    assert table["TableName"] == "sellerops-itest-orders"
    assert _key_schema(table) == {"order_id": "HASH"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"by_seller_listed", "by_ship_by"}
    assert _key_schema(indexes["by_seller_listed"]) == {
        "seller_id": "HASH",
        "updated_key": "RANGE",
    }
    # the list carries keys and its filters, not the row (each change moves an order in it)
    assert {name: i["Projection"]["ProjectionType"] for name, i in indexes.items()} == {
        "by_seller_listed": "INCLUDE", "by_ship_by": "INCLUDE"}
    assert indexes["by_seller_listed"]["Projection"]["NonKeyAttributes"] == ["marketplace_id", "change_key", "status"]
    assert indexes["by_ship_by"]["Projection"]["NonKeyAttributes"] == ["ship_by_alerted"]


def test_buyer_data_table_is_keyed_by_order_id_and_expires_items(stack):
    dynamodb = stack.client("dynamodb")
    name = stack.outputs["BuyerDataTableName"]

    table = dynamodb.describe_table(TableName=name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    assert name == "sellerops-itest-buyer-data"
    assert _key_schema(table) == {"order_id": "HASH"}
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_state_table_has_pk_sk_keys_and_expires_items(stack):
    dynamodb = stack.client("dynamodb")
    name = stack.outputs["StateTableName"]

    table = dynamodb.describe_table(TableName=name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    assert name == "sellerops-itest-state"
    assert _key_schema(table) == {"pk": "HASH", "sk": "RANGE"}
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


@pytest.mark.parametrize(("output", "status"), [("OrdersTableName", "ENABLED"), ("StateTableName", "ENABLED"),
                                                ("BuyerDataTableName", "DISABLED")])
def test_every_table_but_buyer_data_has_point_in_time_recovery(stack, output, status):
    """Buyer data must be gone 30 days after delivery: a backup would keep it 35 days more."""
    backups = stack.client("dynamodb").describe_continuous_backups(
        TableName=stack.outputs[output]
    )["ContinuousBackupsDescription"]

    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == status


# ------------------------------------------------------------------------------------ queues


@pytest.mark.parametrize(
    ("queue_output", "dlq_output", "name", "function_timeout"),
    [(f"{q.stem}QueueUrl", f"{q.stem}DeadLetterQueueUrl", q.name("itest"), q.timeout_seconds)
     for q in resources.QUEUES],
)
def test_each_queue_sends_to_its_dead_letter_queue_after_five_receives(
    stack, template, queue_output, dlq_output, name, function_timeout
):
    sqs = stack.client("sqs")
    queue_url, dlq_url = stack.outputs[queue_output], stack.outputs[dlq_output]

    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    dlq_attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])[
        "Attributes"
    ]

    assert queue_url.endswith(f"/{name}")
    assert "FifoQueue" not in attributes
    assert int(attributes["VisibilityTimeout"]) >= 6 * function_timeout
    assert attributes["MessageRetentionPeriod"] == "345600"
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_attributes["QueueArn"],
        "maxReceiveCount": 5,
    }
    assert dlq_attributes["QueueArn"].endswith(f":{name}-dlq")
    assert dlq_attributes["MessageRetentionPeriod"] == "1209600"


@pytest.mark.parametrize(
    ("queue_output", "dlq_output"),
    [(f"{q.stem}QueueUrl", f"{q.stem}DeadLetterQueueUrl") for q in resources.QUEUES],
)
def test_a_message_failed_five_times_moves_to_the_dead_letter_queue_on_the_sixth_receive(
    stack, queue_output, dlq_output
):
    sqs = stack.client("sqs")
    queue_url, dlq_url = stack.outputs[queue_output], stack.outputs[dlq_output]
    body = json.dumps({"poison": queue_output})
    sqs.send_message(QueueUrl=queue_url, MessageBody=body)

    for attempt in range(1, 6):
        message = _receive_one(sqs, queue_url)
        assert message is not None, f"receive {attempt} found nothing"
        assert message["Body"] == body
        # A failed handler hands the message back at once, as the local worker does.
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )

    assert _receive_one(sqs, queue_url) is None
    dead = _receive_one(sqs, dlq_url)
    assert dead is not None and dead["Body"] == body
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=dead["ReceiptHandle"])


def test_listings_notifications_on_the_event_bus_land_in_the_intake_queue(stack):
    sqs = stack.client("sqs")
    intake_url = stack.outputs["IntakeQueueUrl"]
    detail = {"NotificationType": "LISTINGS_ITEM_STATUS_CHANGE", "Sku": "SKU-1"}

    stack.client("events").put_events(
        Entries=[
            {
                "Source": "aws.partner/sellingpartnerapi.amazon/amzn1.sellerapps.app.test",
                "DetailType": "LISTINGS_ITEM_STATUS_CHANGE",
                "Detail": json.dumps(detail),
            },
            {  # not a listings notification: the rule must not forward it
                "Source": "aws.partner/sellingpartnerapi.amazon/amzn1.sellerapps.app.test",
                "DetailType": "SOMETHING_ELSE",
                "Detail": "{}",
            },
        ]
    )

    message = _receive_one(sqs, intake_url)
    assert message is not None
    assert json.loads(message["Body"])["detail"] == detail
    sqs.delete_message(QueueUrl=intake_url, ReceiptHandle=message["ReceiptHandle"])
    assert _receive_one(sqs, intake_url) is None


# ---------------------------------------------------------------------- bucket, key, secrets


def test_invoice_bucket_blocks_public_access_and_encrypts_with_the_data_key(stack):
    s3 = stack.client("s3")
    bucket = stack.outputs["InvoiceBucketName"]

    public_access = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    versioning = s3.get_bucket_versioning(Bucket=bucket)
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]

    assert bucket == "sellerops-itest-invoices-123456789012"
    assert public_access == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = encryption["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": stack.outputs["DataKeyArn"],
    }
    assert rule["BucketKeyEnabled"] is True
    assert versioning["Status"] == "Enabled"
    assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_an_invoice_written_to_the_bucket_is_encrypted_with_the_data_key(stack):
    s3 = stack.client("s3")
    bucket = stack.outputs["InvoiceBucketName"]

    s3.put_object(Bucket=bucket, Key="invoices/INV-1.pdf", Body=b"%PDF-1.7")
    head = s3.head_object(Bucket=bucket, Key="invoices/INV-1.pdf")

    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == stack.outputs["DataKeyArn"]


def test_data_key_is_usable_rotates_and_has_its_alias(stack):
    kms = stack.client("kms")
    key_arn = stack.outputs["DataKeyArn"]

    metadata = kms.describe_key(KeyId="alias/sellerops-itest")["KeyMetadata"]
    ciphertext = kms.encrypt(KeyId=key_arn, Plaintext=b"buyer")["CiphertextBlob"]

    assert metadata["Arn"] == key_arn
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"buyer"
    assert isinstance(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"], str)


def test_spapi_secret_exists_with_the_placeholder_under_the_data_key(stack):
    secrets = stack.client("secretsmanager")
    name = stack.outputs["SpApiSecretName"]

    description = secrets.describe_secret(SecretId=name)
    value = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])

    assert name == "sellerops/itest/spapi"
    assert description["KmsKeyId"] == stack.outputs["DataKeyArn"]
    assert value == {"lwa_app_id": "", "lwa_client_secret": "", "sellers": {}}


def test_write_secret_replaces_the_placeholder(stack):
    sellers = {"A1SELLER": {"refresh_token": "Atzr|x", "marketplaces": ["A13V1IB3VIYZZH"]}}

    write_secret(stack, "amzn1.application-oa2-client.x", "shh", sellers)

    value = json.loads(
        stack.client("secretsmanager").get_secret_value(SecretId=stack.outputs["SpApiSecretName"])[
            "SecretString"
        ]
    )
    assert value == {
        "lwa_app_id": "amzn1.application-oa2-client.x",
        "lwa_client_secret": "shh",
        "sellers": sellers,
    }


def test_write_api_token_hash_stores_only_the_sha256_as_a_secure_string(stack):
    ssm = stack.client("ssm")
    name = stack.outputs["ApiTokenHashParameterName"]

    write_api_token_hash(stack, "first")
    write_api_token_hash(stack, "second")  # overwrites

    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert name == "/sellerops/itest/api-token-hash"
    assert parameter["Type"] == "SecureString"
    assert parameter["Value"] == hashlib.sha256(b"second").hexdigest()


# ------------------------------------------------------------------------------------ the stack


def test_provision_reports_what_moto_skipped_and_what_it_patched(stack):
    alarms = [f"{q.stem}{kind}Alarm" for q in resources.QUEUES for kind in ("DeadLetter", "Backlog")]
    assert sorted(stack.skipped) == sorted(["IntakeQueuePolicy", "InvoiceBucketPolicy", "SpApiSecret",
                                            "AlertsTopicPolicy", "AlertEmailSubscription", *alarms])
    assert "BuyerDataTable.TimeToLiveSpecification" in stack.patched
    assert "OrdersTable.PointInTimeRecoverySpecification" in stack.patched
    assert "InvoiceBucket.PublicAccessBlockConfiguration" in stack.patched
    assert "OrdersTable.SSESpecification" in stack.not_applied


def test_every_dead_letter_queue_and_every_queue_s_oldest_message_has_its_alarm_to_the_alerts_topic(stack):
    found = {a["AlarmName"]: a for a in stack.client("cloudwatch").describe_alarms()["MetricAlarms"]
             if a["AlarmName"].startswith("sellerops-itest-")}
    topic = stack.outputs["AlertsTopicArn"]
    assert topic.endswith(":sellerops-itest-alerts")
    for queue in resources.QUEUES:
        dead = found[f"sellerops-itest-{queue.suffix}-dead-letters"]
        assert dead["Namespace"] == "AWS/SQS" and dead["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert dead["Dimensions"] == [{"Name": "QueueName", "Value": queue.dlq_name("itest")}]
        assert dead["Threshold"] == 1 and dead["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        behind = found[f"sellerops-itest-{queue.suffix}-behind"]
        assert behind["MetricName"] == "ApproximateAgeOfOldestMessage"
        assert behind["Dimensions"] == [{"Name": "QueueName", "Value": queue.name("itest")}]
        assert behind["Threshold"] == queue.oldest_message_alarm_seconds
        assert dead["AlarmActions"] == dead["OKActions"] == behind["AlarmActions"] == [topic]
    assert len(found) == 2 * len(resources.QUEUES)


def test_outputs_name_every_resource_the_app_needs(stack, template):
    assert set(stack.outputs) == set(template["Outputs"])


def test_env_gives_every_setting_the_handlers_read(stack):
    env = stack.env()

    assert set(env) == ENV_KEYS
    assert all(isinstance(v, str) and v for v in env.values())
    assert env["AWS_ENDPOINT_URL"] == stack.endpoint_url
    assert env["SELLEROPS_STAGE"] == "itest"
    assert env["DATA_KEY_ID"] == stack.outputs["DataKeyArn"]


def test_queue_urls_from_the_outputs_work_through_the_endpoint(stack):
    # moto reports AWS-style queue URLs; boto3 sends to the endpoint whatever the URL's host.
    sqs = stack.client("sqs")
    url = stack.env()["TASK_QUEUE_URL"]

    sqs.send_message(QueueUrl=url, MessageBody="ping")
    message = _receive_one(sqs, url)

    assert message is not None and message["Body"] == "ping"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
