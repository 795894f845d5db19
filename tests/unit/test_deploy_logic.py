"""The decisions `python -m infra.deploy` takes, without AWS: what goes into the Chalice stage,
when a change set is empty, which event source mappings to fix, what a destroy keeps."""
import base64
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from chalicelib import resources
from infra import deploy
from infra.deploy import (
    DeployError,
    change_set_outcome,
    deployed_functions,
    function_log_groups,
    function_settings,
    mapping_update,
    means_no_changes,
    merge_stage_config,
    parse_template,
    render_config,
    rest_api_url,
    retained_resources,
    sqs_event_sources,
    stack_parameters,
    stage_environment,
    validate_stage,
)

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = parse_template((REPO / "infra" / "template.yaml").read_text(encoding="utf-8"))

OUTPUTS = {
    "OrdersTableName": "sellerops-prod-orders",
    "BuyerDataTableName": "sellerops-prod-buyer-data",
    "StateTableName": "sellerops-prod-state",
    "ShipmentsTableName": "sellerops-prod-shipments",
    "FulfillmentOrdersTableName": "sellerops-prod-fulfillment-orders",
    "InvoicesTableName": "sellerops-prod-invoices",
    "StockTableName": "sellerops-prod-stock",
    "SettlementsTableName": "sellerops-prod-settlements",
    "IntakeQueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/sellerops-prod-intake",
    "IntakeQueueArn": "arn:aws:sqs:eu-west-1:111122223333:sellerops-prod-intake",
    "IntakeQueueName": "sellerops-prod-intake",
    "IntakeDeadLetterQueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/sellerops-prod-intake-dlq",
    "TaskQueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/sellerops-prod-tasks",
    "TaskQueueArn": "arn:aws:sqs:eu-west-1:111122223333:sellerops-prod-tasks",
    "TaskQueueName": "sellerops-prod-tasks",
    "TaskDeadLetterQueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/sellerops-prod-tasks-dlq",
    "WorkQueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/sellerops-prod-work",
    "WorkQueueArn": "arn:aws:sqs:eu-west-1:111122223333:sellerops-prod-work",
    "WorkQueueName": "sellerops-prod-work",
    "WorkDeadLetterQueueUrl": "https://sqs.eu-west-1.amazonaws.com/111122223333/sellerops-prod-work-dlq",
    "InvoiceBucketName": "sellerops-prod-invoices-111122223333",
    "DataKeyArn": "arn:aws:kms:eu-west-1:111122223333:key/0000-key",
    "SpApiSecretName": "sellerops/prod/spapi",
    "ApiTokenHashParameterName": "/sellerops/prod/api-token-hash",
    "PageTokenKeyParameterName": "/sellerops/prod/page-token-key",
    "AlertsTopicArn": "arn:aws:sns:eu-west-1:111122223333:sellerops-prod-alerts",
}

CONFIG = {
    "version": "2.0",
    "app_name": "sellerops",
    "autogen_policy": False,
    "lambda_timeout": 60,
    "environment_variables": {"POWERTOOLS_SERVICE_NAME": "sellerops"},
    "stages": {
        "dev": {
            "api_gateway_stage": "api",
            "iam_policy_file": "policy-dev.json",
            "environment_variables": {"SELLEROPS_STAGE": "dev"},
        },
        "local": {"api_gateway_stage": "api", "environment_variables": {"SELLEROPS_STAGE": "local"}},
    },
}

# The records of .chalice/deployed/<stage>.json as `chalice deploy` (1.34) writes them.
DEPLOYED = {
    "resources": [
        {"name": "intake_role", "resource_type": "iam_role",
         "role_arn": "arn:aws:iam::123456789012:role/sellerops-t-intake", "role_name": "sellerops-t-intake"},
        {"name": "intake", "resource_type": "lambda_function",
         "lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:sellerops-t-intake"},
        {"name": "intake-sqs-event-source", "resource_type": "sqs_event",
         "queue_arn": "arn:aws:sqs:eu-west-1:123456789012:sellerops-t-intake",
         "event_uuid": "489ab26a-839e-4bc0-9a3f-308926236628", "queue": "sellerops-t-intake",
         "lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:sellerops-t-intake"},
        {"name": "tasks", "resource_type": "lambda_function",
         "lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:sellerops-t-tasks"},
        {"name": "tasks-sqs-event-source", "resource_type": "sqs_event",
         "queue_arn": "arn:aws:sqs:eu-west-1:123456789012:sellerops-t-tasks",
         "event_uuid": "7e3d32ca-0645-4f52-836f-a87671c055aa", "queue": "sellerops-t-tasks",
         "lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:sellerops-t-tasks"},
        {"name": "work", "resource_type": "lambda_function",
         "lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:sellerops-t-work"},
        {"name": "work-sqs-event-source", "resource_type": "sqs_event",
         "queue_arn": "arn:aws:sqs:eu-west-1:123456789012:sellerops-t-work",
         "event_uuid": "0b6f3c1e-52c4-4a57-9b0e-6e0f1d2a3b4c", "queue": "sellerops-t-work",
         "lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:sellerops-t-work"},
        {"name": "poll_orders-event", "resource_type": "cloudwatch_event",
         "rule_name": "sellerops-t-poll_orders-event"},
    ],
    "schema_version": "2.0",
    "backend": "api",
}


# ----------------------------------------------------------------------- the Chalice stage


def test_every_stage_variable_comes_from_a_stack_output():
    env = stage_environment(OUTPUTS, "prod")
    assert env == {
        "ORDERS_TABLE": "sellerops-prod-orders",
        "BUYER_DATA_TABLE": "sellerops-prod-buyer-data",
        "STATE_TABLE": "sellerops-prod-state",
        "SHIPMENTS_TABLE": "sellerops-prod-shipments",
        "FULFILLMENT_ORDERS_TABLE": "sellerops-prod-fulfillment-orders",
        "INVOICES_TABLE": "sellerops-prod-invoices",
        "STOCK_TABLE": "sellerops-prod-stock",
        "SETTLEMENTS_TABLE": "sellerops-prod-settlements",
        "INTAKE_QUEUE_URL": OUTPUTS["IntakeQueueUrl"],
        "INTAKE_DLQ_URL": OUTPUTS["IntakeDeadLetterQueueUrl"],
        "TASK_QUEUE_URL": OUTPUTS["TaskQueueUrl"],
        "TASK_DLQ_URL": OUTPUTS["TaskDeadLetterQueueUrl"],
        "WORK_QUEUE_URL": OUTPUTS["WorkQueueUrl"],
        "WORK_DLQ_URL": OUTPUTS["WorkDeadLetterQueueUrl"],
        "INVOICE_BUCKET": "sellerops-prod-invoices-111122223333",
        "DATA_KEY_ID": OUTPUTS["DataKeyArn"],
        "SPAPI_SECRET_ID": "sellerops/prod/spapi",
        "API_TOKEN_HASH_PARAMETER": "/sellerops/prod/api-token-hash",
        "PAGE_TOKEN_KEY_PARAMETER": "/sellerops/prod/page-token-key",
        "ALERTS_TOPIC_ARN": OUTPUTS["AlertsTopicArn"],
        "SELLEROPS_STAGE": "prod",
    }


def test_the_template_has_every_output_the_stage_needs():
    assert {output for output, _ in resources.output_variables()} <= set(TEMPLATE["Outputs"])


def test_a_missing_output_is_named():
    outputs = {k: v for k, v in OUTPUTS.items() if k != "InvoiceBucketName"}
    with pytest.raises(DeployError, match="InvoiceBucketName"):
        stage_environment(outputs, "prod")


def test_a_new_stage_is_appended_and_everything_else_is_kept():
    merged = merge_stage_config(CONFIG, "prod", stage_environment(OUTPUTS, "prod"))
    assert list(merged) == list(CONFIG)
    assert list(merged["stages"]) == ["dev", "local", "prod"]
    assert merged["stages"]["dev"] == CONFIG["stages"]["dev"]
    assert merged["stages"]["local"] == CONFIG["stages"]["local"]
    assert {k: v for k, v in merged.items() if k != "stages"} == {k: v for k, v in CONFIG.items() if k != "stages"}
    prod = merged["stages"]["prod"]
    assert prod["lambda_functions"] == function_settings("prod")
    assert prod["autogen_policy"] is False
    assert "iam_policy_file" not in prod, "each function has its own"
    assert prod["lambda_functions"]["api_handler"] == {"iam_policy_file": "policy-prod-api_handler.json"}
    assert prod["environment_variables"] == stage_environment(OUTPUTS, "prod")


def test_an_existing_stage_keeps_its_keys_their_order_and_its_own_variables():
    config = json.loads(json.dumps(CONFIG))
    config["stages"]["dev"]["environment_variables"]["FIRST_POLL_WINDOW_DAYS"] = "3"
    config["stages"]["dev"]["lambda_memory_size"] = 1024
    config["stages"]["dev"]["lambda_functions"] = {"intake": {"lambda_timeout": 30, "reserved_concurrency": 5}}
    merged = merge_stage_config(config, "dev", stage_environment(OUTPUTS, "dev"))
    dev = merged["stages"]["dev"]
    assert list(dev) == [
        "api_gateway_stage", "environment_variables", "lambda_memory_size", "lambda_functions", "autogen_policy",
    ], "the stage-wide iam_policy_file gives way to one per function"
    env = dev["environment_variables"]
    assert list(env)[:2] == ["SELLEROPS_STAGE", "FIRST_POLL_WINDOW_DAYS"]
    assert env["FIRST_POLL_WINDOW_DAYS"] == "3"
    assert env["ORDERS_TABLE"] == "sellerops-prod-orders"
    assert dev["lambda_memory_size"] == 1024
    # The declared timeout wins; other settings of the function are kept.
    assert dev["lambda_functions"]["intake"] == {"lambda_timeout": 60, "reserved_concurrency": 5,
                                                 "iam_policy_file": "policy-dev-intake.json",
                                                 "lambda_memory_size": 512}
    assert config["stages"]["dev"]["lambda_functions"]["intake"]["lambda_timeout"] == 30  # the input is not modified


def test_merging_twice_writes_the_same_bytes():
    env = stage_environment(OUTPUTS, "prod")
    once = render_config(merge_stage_config(CONFIG, "prod", env))
    twice = render_config(merge_stage_config(json.loads(once), "prod", env))
    assert once == twice


def test_the_file_is_written_with_two_space_indent_and_a_trailing_newline():
    text = render_config({"a": {"b": [1, 2]}, "c": "é"})
    assert text == '{\n  "a": {\n    "b": [\n      1,\n      2\n    ]\n  },\n  "c": "é"\n}\n'


def test_write_stage_config_leaves_an_up_to_date_file_untouched(tmp_path):
    (tmp_path / ".chalice").mkdir()
    path = tmp_path / ".chalice" / "config.json"
    path.write_text(render_config(CONFIG), encoding="utf-8")
    project = deploy.Project(tmp_path)
    assert deploy.write_stage_config(project, "prod", OUTPUTS) is True
    written = path.read_bytes()
    assert deploy.write_stage_config(project, "prod", OUTPUTS) is False
    assert path.read_bytes() == written


# ----------------------------------------------------------------------- stack parameters


def test_each_queue_consumer_gets_its_declared_timeout_and_memory_and_every_function_its_policy():
    settings = function_settings("dev")
    assert {name: {k: v for k, v in s.items() if k != "iam_policy_file"} for name, s in settings.items()
            if name in ("intake", "tasks", "work")} == {
        "intake": {"lambda_timeout": 60, "lambda_memory_size": 512},
        "tasks": {"lambda_timeout": 60, "lambda_memory_size": 256},
        "work": {"lambda_timeout": 300, "lambda_memory_size": 1024},
    }
    assert {name: s["iam_policy_file"] for name, s in settings.items()} == {
        f: f"policy-dev-{f}.json" for f in ("api_handler", "bearer_token", "intake", "tasks", "work", "poll_orders",
                                            "purge_buyer_data", "sweep_shipments", "alert_ship_by",
                                            "sweep_fulfillment", "sweep_invoices", "push_stock",
                                            "reconcile_stock", "list_settlements")}


@pytest.mark.parametrize("queue", resources.QUEUES, ids=lambda q: q.suffix)
def test_each_queue_stays_invisible_six_times_its_consumers_timeout(queue):
    """AWS's advice for SQS event sources: a message handed to a function is not handed to
    another before the first could have timed out."""
    properties = TEMPLATE["Resources"][f"{queue.stem}Queue"]["Properties"]
    assert properties["VisibilityTimeout"] == 6 * function_settings("dev")[queue.handler]["lambda_timeout"]
    assert properties["RedrivePolicy"]["maxReceiveCount"] == queue.max_receive_count


def test_the_committed_chalice_stages_give_each_consumer_its_declared_settings():
    config = json.loads((REPO / ".chalice" / "config.json").read_text(encoding="utf-8"))
    assert config["stages"]["dev"]["lambda_functions"] == function_settings("dev")
    # The local stack deploys nothing: its functions run in one process, with no role.
    local = config["stages"]["local"]["lambda_functions"]
    assert local == {q: {k: v for k, v in s.items() if k != "iam_policy_file"}
                     for q, s in function_settings("local").items() if q in local}


def test_a_new_stack_gets_every_parameter_explicitly():
    assert stack_parameters(TEMPLATE, "prod", existing=None) == [
        {"ParameterKey": "Stage", "ParameterValue": "prod"},
        {"ParameterKey": "ListingsEventBusName", "ParameterValue": "default"},
        {"ParameterKey": "AlertEmail", "ParameterValue": ""},
    ]


def test_an_alert_email_given_is_set_and_one_not_given_is_kept():
    given = stack_parameters(TEMPLATE, "prod", existing=["Stage", "ListingsEventBusName", "AlertEmail"],
                             given={"AlertEmail": "ops@example.com"})
    assert {"ParameterKey": "AlertEmail", "ParameterValue": "ops@example.com"} in given
    kept = stack_parameters(TEMPLATE, "prod", existing=["Stage", "ListingsEventBusName", "AlertEmail"])
    assert {"ParameterKey": "AlertEmail", "UsePreviousValue": True} in kept


def test_an_update_keeps_the_parameters_it_does_not_manage():
    params = stack_parameters(TEMPLATE, "prod", existing=["Stage", "ListingsEventBusName"])
    assert {"ParameterKey": "ListingsEventBusName", "UsePreviousValue": True} in params
    assert {"ParameterKey": "Stage", "ParameterValue": "prod"} in params


@pytest.mark.parametrize("stage", ["dev", "prod-eu", "a", "s3"])
def test_valid_stage_names(stage):
    validate_stage(stage, TEMPLATE)


@pytest.mark.parametrize("stage", ["Prod", "-dev", "dev-", "dev_1", "a" * 21, ""])
def test_stage_names_the_bucket_name_cannot_hold_are_refused(stage):
    with pytest.raises(DeployError):
        validate_stage(stage, TEMPLATE)


# ----------------------------------------------------------------------- change sets


NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."


@pytest.mark.parametrize(
    ("description", "outcome"),
    [
        ({"Status": "CREATE_PENDING"}, "pending"),
        ({"Status": "CREATE_IN_PROGRESS"}, "pending"),
        ({"Status": "FAILED", "StatusReason": NO_CHANGES, "ExecutionStatus": "UNAVAILABLE"}, "empty"),
        ({"Status": "FAILED", "StatusReason": "No updates are to be performed."}, "empty"),
        ({"Status": "FAILED", "StatusReason": "Template format error: unsupported resource"}, "failed"),
        ({"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE",
          "Changes": [{"Type": "Resource", "ResourceChange": {"Action": "Modify"}}]}, "ready"),
        # Only outputs changed: no resource changes, still worth executing.
        ({"Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "Changes": []}, "ready"),
        ({"Status": "CREATE_COMPLETE", "ExecutionStatus": "OBSOLETE"}, "failed"),
        ({"Status": "DELETE_COMPLETE"}, "failed"),
    ],
)
def test_change_set_outcomes(description, outcome):
    assert change_set_outcome(description) == outcome


def test_an_immediate_no_updates_error_means_no_changes():
    # moto refuses CreateChangeSet at once when neither template nor parameters changed.
    assert means_no_changes("An error occurred (ValidationError) when calling the CreateChangeSet"
                            " operation: No updates are to be performed.")
    assert not means_no_changes("An error occurred (ValidationError): Stack is in UPDATE_IN_PROGRESS")


def test_changes_are_listed_one_per_line():
    description = {"Changes": [
        {"ResourceChange": {"Action": "Modify", "LogicalResourceId": "IntakeQueue",
                            "ResourceType": "AWS::SQS::Queue", "Replacement": "False"}},
        {"ResourceChange": {"Action": "Modify", "LogicalResourceId": "OrdersTable",
                            "ResourceType": "AWS::DynamoDB::Table", "Replacement": "True"}},
    ]}
    assert deploy.describe_changes(description) == [
        "Modify IntakeQueue AWS::SQS::Queue",
        "Modify OrdersTable AWS::DynamoDB::Table (replacement: True)",
    ]


# ----------------------------------------------------------------------- index steps


def _table(*indexes: tuple[str, str]) -> dict:
    return {"Type": "AWS::DynamoDB::Table", "Properties": {
        "KeySchema": [{"AttributeName": "order_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"}
                                 for a in ["order_id", *sorted({key for _, key in indexes})]],
        "GlobalSecondaryIndexes": [{"IndexName": name, "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
                                    "Projection": {"ProjectionType": "KEYS_ONLY"}} for name, key in indexes]}}


def _index_names(template: dict) -> list[str]:
    return [i["IndexName"] for i in template["Resources"]["T"]["Properties"]["GlobalSecondaryIndexes"]]


def _attributes(template: dict) -> list[str]:
    return [d["AttributeName"] for d in template["Resources"]["T"]["Properties"]["AttributeDefinitions"]]


def test_tables_whose_indexes_do_not_change_take_one_update():
    current = {"Resources": {"T": _table(("a", "x"))}, "Outputs": {"o": 1}}
    target = {"Resources": {"T": _table(("a", "x"))}, "Outputs": {"o": 2}}
    assert deploy.index_steps(current, target) == ([], [])


def test_an_index_added_comes_before_the_app_and_one_removed_after_it():
    current = {"Resources": {"T": _table(("a", "x"))}}
    target = {"Resources": {"T": _table(("a", "x"), ("b", "y"))}}
    assert deploy.index_steps(current, target) == ([target], [])  # the new code finds it built
    assert deploy.index_steps(target, current) == ([], [current])  # the old code reads it until it is gone
    replaced = {"Resources": {"T": _table(("c", "x"))}}
    before, after = deploy.index_steps(current, replaced)
    assert [_index_names(t) for t in before] == [["a", "c"]] and after == [replaced]


def test_two_indexes_replaced_are_added_one_at_a_time_before_the_app_and_removed_after_it():
    current = {"Resources": {"T": _table(("old_a", "x"), ("old_b", "y"), ("keep", "z"))}, "Outputs": {"o": 1}}
    target = {"Resources": {"T": _table(("new_a", "x"), ("new_b", "w"), ("keep", "z"))}, "Outputs": {"o": 2}}
    before, after = deploy.index_steps(current, target)
    assert [_index_names(t) for t in before] == [["old_a", "old_b", "keep", "new_a"],
                                                 ["old_a", "old_b", "keep", "new_a", "new_b"]]
    assert [_index_names(t) for t in after] == [["old_b", "keep", "new_a", "new_b"], ["new_a", "new_b", "keep"]]
    assert after[-1] is target
    # every key any index of a step uses is defined, and no other (DynamoDB refuses both)
    assert _attributes(before[1]) == ["order_id", "w", "x", "y", "z"]
    assert _attributes(after[0]) == ["order_id", "w", "x", "y", "z"]
    assert before[0]["Outputs"] == {"o": 2}  # the rest of the stack is the target's from the first step
    steps = [current, *before, *after]
    for earlier, later in zip(steps, steps[1:], strict=False):  # one index created or deleted per update
        assert len(set(_index_names(earlier)) ^ set(_index_names(later))) == 1


def test_indexes_only_added_or_only_removed_go_one_at_a_time_on_their_side_of_the_app():
    current = {"Resources": {"T": _table(("a", "x"))}}
    target = {"Resources": {"T": _table(("a", "x"), ("b", "y"), ("c", "z"))}}
    before, after = deploy.index_steps(current, target)
    assert [_index_names(t) for t in before] == [["a", "b"], ["a", "b", "c"]] and before[-1] is target
    assert after == []
    before, after = deploy.index_steps(target, current)
    assert before == [] and [_index_names(t) for t in after] == [["a", "c"], ["a"]] and after[-1] is current


def test_an_index_redefined_under_its_old_name_is_refused():
    current = {"Resources": {"T": _table(("a", "x"), ("b", "y"))}}
    target = {"Resources": {"T": _table(("a", "z"), ("b", "y"))}}
    with pytest.raises(DeployError, match="index a changes its definition"):
        deploy.index_steps(current, target)


# ----------------------------------------------------------------------- event source mappings


def test_the_sqs_mappings_are_read_from_chalice_s_deployed_file():
    assert [(s.queue, s.uuid) for s in sqs_event_sources(DEPLOYED)] == [
        ("sellerops-t-intake", "489ab26a-839e-4bc0-9a3f-308926236628"),
        ("sellerops-t-tasks", "7e3d32ca-0645-4f52-836f-a87671c055aa"),
        ("sellerops-t-work", "0b6f3c1e-52c4-4a57-9b0e-6e0f1d2a3b4c"),
    ]
    assert set(deployed_functions(DEPLOYED)) == {"intake", "tasks", "work"}
    assert function_log_groups(DEPLOYED) == ["/aws/lambda/sellerops-t-intake", "/aws/lambda/sellerops-t-tasks",
                                             "/aws/lambda/sellerops-t-work"]
    assert rest_api_url(DEPLOYED) is None
    assert sqs_event_sources({"resources": []}) == []


def test_the_api_url_is_read_when_the_api_was_deployed():
    deployed = {"resources": [{"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc",
                               "rest_api_url": "https://abc.execute-api.eu-west-1.amazonaws.com/api/"}]}
    assert rest_api_url(deployed) == "https://abc.execute-api.eu-west-1.amazonaws.com/api/"


def test_report_batch_item_failures_is_switched_on_only_when_off():
    assert mapping_update({"FunctionResponseTypes": None}, None) == {
        "FunctionResponseTypes": ["ReportBatchItemFailures"]
    }
    assert mapping_update({}, None) == {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
    assert mapping_update({"FunctionResponseTypes": ["ReportBatchItemFailures"]}, None) == {}


def test_the_batching_window_is_set_only_when_asked_and_different():
    on = {"FunctionResponseTypes": ["ReportBatchItemFailures"], "MaximumBatchingWindowInSeconds": 0}
    assert mapping_update(on, None) == {}
    assert mapping_update(on, 0) == {}
    assert mapping_update(on, 5) == {"MaximumBatchingWindowInSeconds": 5}


class _FakeLambda:
    def __init__(self, mappings):
        self.mappings = mappings
        self.updates = []

    def get_event_source_mapping(self, UUID):
        return dict(self.mappings[UUID])

    def update_event_source_mapping(self, UUID, **kwargs):
        self.updates.append((UUID, kwargs))
        self.mappings[UUID].update(kwargs)


def test_the_mappings_are_updated_once_then_left_alone(capsys):
    uuids = [s.uuid for s in sqs_event_sources(DEPLOYED)]
    fake = _FakeLambda({uuid: {"UUID": uuid, "BatchSize": 10, "FunctionResponseTypes": None} for uuid in uuids})
    aws = SimpleNamespace(client=lambda name: fake)
    deploy.ensure_event_source_settings(aws, DEPLOYED, batching_window=None)
    assert fake.updates == [(uuid, {"FunctionResponseTypes": ["ReportBatchItemFailures"]}) for uuid in uuids]
    deploy.ensure_event_source_settings(aws, DEPLOYED, batching_window=None)
    assert len(fake.updates) == len(uuids) == 3
    assert capsys.readouterr().out.count("already on") == 3


def test_a_deployment_without_every_queue_handler_is_an_error():
    deployed = {"resources": [r for r in DEPLOYED["resources"] if r["name"] != "tasks-sqs-event-source"]}
    with pytest.raises(DeployError, match="expected 3 SQS event sources"):
        deploy.ensure_event_source_settings(SimpleNamespace(client=None), deployed, None)


# ----------------------------------------------------------------------- API token


class _ParameterNotFound(Exception):
    pass


class _FakeSsm:
    exceptions = SimpleNamespace(ParameterNotFound=_ParameterNotFound)

    def __init__(self):
        self.parameters = {}

    def get_parameter(self, Name, WithDecryption=False):
        if Name not in self.parameters:
            raise _ParameterNotFound(Name)
        return {"Parameter": dict(self.parameters[Name], Name=Name)}

    def put_parameter(self, Name, Value, Type, KeyId, Overwrite, Description=""):
        self.parameters[Name] = {"Value": Value, "Type": Type, "KeyId": KeyId}


def test_the_token_is_created_once_and_only_its_hash_is_stored(capsys):
    ssm = _FakeSsm()
    aws = SimpleNamespace(client=lambda name: ssm)
    token = deploy.ensure_api_token(aws, OUTPUTS, rotate=False)
    stored = ssm.parameters["/sellerops/prod/api-token-hash"]
    assert stored == {"Value": hashlib.sha256(token.encode()).hexdigest(), "Type": "SecureString",
                      "KeyId": OUTPUTS["DataKeyArn"]}
    assert token in capsys.readouterr().out
    assert deploy.ensure_api_token(aws, OUTPUTS, rotate=False) is None
    assert token not in capsys.readouterr().out
    rotated = deploy.ensure_api_token(aws, OUTPUTS, rotate=True)
    assert rotated != token
    assert ssm.parameters["/sellerops/prod/api-token-hash"]["Value"] == hashlib.sha256(rotated.encode()).hexdigest()


def test_the_page_token_key_is_created_once_and_kept():
    ssm = _FakeSsm()
    aws = SimpleNamespace(client=lambda name: ssm)
    assert deploy.ensure_page_token_key(aws, OUTPUTS) is True
    stored = ssm.parameters["/sellerops/prod/page-token-key"]
    assert stored["Type"] == "SecureString" and stored["KeyId"] == OUTPUTS["DataKeyArn"]
    assert len(base64.b64decode(stored["Value"])) == 32
    assert deploy.ensure_page_token_key(aws, OUTPUTS) is False
    assert ssm.parameters["/sellerops/prod/page-token-key"] == stored, "redeploying keeps the key"


def test_the_hash_is_the_one_the_authorizer_checks():
    from chalicelib.core import auth

    assert deploy.token_hash("s3cret") == auth.token_hash("s3cret")


# ----------------------------------------------------------------------- destroy


SUBSTITUTIONS = {"Stage": "prod", "AWS::AccountId": "111122223333", "AWS::Region": "eu-west-1",
                 "AWS::Partition": "aws"}


def test_destroy_keeps_the_tables_the_bucket_the_key_and_the_secret():
    kept = retained_resources(TEMPLATE, SUBSTITUTIONS, {"DataKey": "0000-key", "OrdersTable": "sellerops-prod-orders"})
    assert [(k.logical_id, k.physical_id) for k in kept] == [
        ("DataKey", "0000-key"),
        ("OrdersTable", "sellerops-prod-orders"),
        ("BuyerDataTable", "sellerops-prod-buyer-data"),
        ("StateTable", "sellerops-prod-state"),
        ("ShipmentsTable", "sellerops-prod-shipments"),
        ("FulfillmentOrdersTable", "sellerops-prod-fulfillment-orders"),
        ("InvoicesTable", "sellerops-prod-invoices"),
        ("StockTable", "sellerops-prod-stock"),
        ("SettlementsTable", "sellerops-prod-settlements"),
        ("InvoiceBucket", "sellerops-prod-invoices-111122223333"),
        ("SpApiSecret", "sellerops/prod/spapi"),
    ]


def test_once_the_stack_is_gone_the_key_is_known_by_its_description_only():
    (key,) = [k for k in retained_resources(TEMPLATE, SUBSTITUTIONS) if k.resource_type == "AWS::KMS::Key"]
    assert key.physical_id == ""
    assert key.description.startswith("sellerops prod: ")


def test_sub_resolves_parameters_and_escapes():
    assert deploy.substitute({"Fn::Sub": "a-${Stage}-${!Literal}"}, {"Stage": "x"}) == "a-x-${Literal}"
    with pytest.raises(DeployError):
        deploy.substitute({"Fn::Sub": "${Unknown}"}, {})


# ----------------------------------------------------------------------- command line


def test_command_line_options(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    args = deploy.build_parser().parse_args(["deploy", "--stage", "prod", "--no-api", "--batching-window", "5"])
    assert (args.stage, args.api, args.batching_window, args.rotate_token) == ("prod", False, 5, False)
    assert args.endpoint_url == "http://127.0.0.1:5000"
    assert Path(args.project_dir) == REPO
    args = deploy.build_parser().parse_args(["destroy", "--stage", "prod", "--delete-data", "--yes"])
    assert args.delete_data and args.yes


# ----------------------------------------------------------------------- gateway responses


def test_api_gateway_answers_in_the_api_s_error_shape_after_a_deploy(capsys):
    """Every answer API Gateway gives itself (no token, refused token, unknown route, too large)
    is put on the deployed API as our {"error", "message"} JSON, then the stage is redeployed."""
    import boto3
    from moto import mock_aws

    from chalicelib.core.http import GATEWAY_RESPONSES

    with mock_aws():
        aws = SimpleNamespace(client=lambda name: boto3.client(name, region_name="eu-west-1"))
        apigateway = aws.client("apigateway")
        api_id = apigateway.create_rest_api(name="sellerops")["id"]
        root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
        apigateway.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
        apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
        deployed = {"resources": [{"name": "rest_api", "resource_type": "rest_api", "rest_api_id": api_id}]}
        assert deploy.ensure_gateway_responses(aws, deployed, "api") == len(GATEWAY_RESPONSES)
        answers = {r["responseType"]: r for r in apigateway.get_gateway_responses(restApiId=api_id)["items"]}
        deployments = apigateway.get_deployments(restApiId=api_id)["items"]
    assert "UNAUTHORIZED" in answers and "ACCESS_DENIED" in answers and "DEFAULT_4XX" in answers
    for response in GATEWAY_RESPONSES:
        answer = answers[response.kind]
        if response.keeps_status:  # a DEFAULT_* answers with the status of what it stands for
            assert "statusCode" not in answer or answer["statusCode"] in (None, "")
        else:
            assert answer["statusCode"] == str(response.status)
        body = json.loads(answer["responseTemplates"]["application/json"])
        assert set(body) == {"error", "message"} and body["error"] == response.code
        assert "$" not in answer["responseTemplates"]["application/json"], "nothing of the request is echoed"
    assert len(deployments) == 1
    assert deploy.ensure_gateway_responses(aws, {"resources": []}, "api") == 0, "no API deployed: nothing to do"


def test_the_package_declares_the_same_gateway_responses():
    from chalicelib.core.http import GATEWAY_RESPONSES
    from infra.package import merge_template

    declared = merge_template()["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert set(declared) == {r.kind for r in GATEWAY_RESPONSES}
    for response in GATEWAY_RESPONSES:
        assert declared[response.kind].get("StatusCode") == (None if response.keeps_status else response.status)
        assert json.loads(declared[response.kind]["ResponseTemplates"]["application/json"])["error"] == response.code
