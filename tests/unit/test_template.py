"""infra/template.yaml is generated from the one declaration of resources, and is current."""
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
