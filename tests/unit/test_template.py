"""infra/template.yaml is generated from the one declaration of resources, and is current."""
import fnmatch

from chalicelib import resources
from infra import template
from infra.cfn_yaml import parse_template


def test_the_committed_template_is_what_the_declaration_generates():
    assert template.TEMPLATE_PATH.read_text(encoding="utf-8") == template.render(), \
        "regenerate it: python -m infra.template"


def test_the_template_reads_back_as_the_dictionary_it_was_rendered_from():
    parsed = parse_template(template.render())
    assert set(parsed["Resources"]) == set(template.template()["Resources"])
    assert set(parsed["Outputs"]) == set(template.template()["Outputs"])


def test_every_declared_table_has_its_keys_indexes_and_expiry():
    parsed = parse_template(template.render())["Resources"]
    for table in resources.TABLES:
        properties = parsed[table.logical_id]["Properties"]
        assert properties["TableName"] == {"Fn::Sub": f"sellerops-${{Stage}}-{table.suffix}"}
        keys = {k["AttributeName"]: k["KeyType"] for k in properties["KeySchema"]}
        assert keys == {table.hash_key: "HASH", **({table.range_key: "RANGE"} if table.range_key else {})}
        indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]]
                   for i in properties.get("GlobalSecondaryIndexes", [])}
        assert indexes == {i.name: [i.hash_key] + ([i.range_key] if i.range_key else []) for i in table.indexes}
        ttl = properties.get("TimeToLiveSpecification", {}).get("AttributeName")
        assert ttl == table.ttl_attribute, table.suffix


def test_every_declared_queue_has_a_dead_letter_queue_and_the_outputs_the_functions_read():
    parsed = parse_template(template.render())
    for queue in resources.QUEUES:
        properties = parsed["Resources"][f"{queue.stem}Queue"]["Properties"]
        assert properties["QueueName"] == {"Fn::Sub": f"sellerops-${{Stage}}-{queue.suffix}"}
        assert properties["RedrivePolicy"]["deadLetterTargetArn"] == {
            "Fn::GetAtt": [f"{queue.stem}DeadLetterQueue", "Arn"]}
    assert {output for output, _ in resources.output_variables()} <= set(parsed["Outputs"])


def _key_policy():
    return {s["Sid"]: s for s in parse_template(template.render())["Resources"]["DataKey"]["Properties"]
            ["KeyPolicy"]["Statement"]}


def test_the_key_policy_lets_administrators_manage_the_key_but_not_use_it():
    admin = _key_policy()["AccountAdministersTheKey"]
    assert admin["Principal"] == {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    allowed = lambda action: any(fnmatch.fnmatchcase(action, pattern) for pattern in admin["Action"])  # noqa: E731
    assert allowed("kms:PutKeyPolicy") and allowed("kms:ScheduleKeyDeletion")  # never locked out
    for use in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant"):
        assert not allowed(use), f"an administrator could {use}"


def test_the_key_policy_names_the_roles_of_the_functions_that_use_the_key_directly():
    """Every function whose IAM policy calls KMS itself is named in the key policy; every other
    function's KMS use goes through a service the key policy admits."""
    from infra import policy

    statements = _key_policy()
    direct = statements["FunctionsSealBuyerData"]["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    named = {role["Fn::Sub"].rsplit("/", 1)[-1] for role in direct}
    assert named == {f"sellerops-${{Stage}}-{f}" for f in ("api_handler", "tasks", "work")}
    assert named == {policy.role_name("${Stage}", f) for f in policy.direct_key_users()}
    through = statements["AccountUsesTheKeyThroughServices"]["Condition"]["StringLike"]["kms:ViaService"]
    admitted = {service["Fn::Sub"].split(".")[0] for service in through}
    for function in policy.FUNCTIONS:
        for statement in policy.policy_document("dev", function)["Statement"]:
            via = (statement.get("Condition") or {}).get("StringLike", {}).get("kms:ViaService")
            if via:
                assert {service.split(".")[0] for service in via} <= admitted, function
    assert statements["AlarmsPublishToTheAlertsTopic"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}


def test_every_dead_letter_queue_and_every_queue_has_its_alarm_to_the_alerts_topic():
    parsed = parse_template(template.render())["Resources"]
    for queue in resources.QUEUES:
        dead = parsed[f"{queue.stem}DeadLetterAlarm"]["Properties"]
        assert dead["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [f"{queue.stem}DeadLetterQueue",
                                                                                     "QueueName"]}}]
        assert (dead["MetricName"], dead["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 1)
        behind = parsed[f"{queue.stem}BacklogAlarm"]["Properties"]
        assert (behind["MetricName"], behind["Threshold"]) == ("ApproximateAgeOfOldestMessage",
                                                               queue.oldest_message_alarm_seconds)
        for alarm in (dead, behind):
            assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "AlertsTopic"}]
    assert parsed["AlertsTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert parsed["AlertEmailSubscription"]["Condition"] == "AlertEmailGiven"
