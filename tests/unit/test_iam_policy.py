"""Least privilege, checked statically: every AWS call the deployed code makes is granted by the
stage's IAM policy (infra/policy.py), and every grant is used by some call.

The calls are found by reading app.py and chalicelib/ with `ast`:

- boto3 clients: `aws.client("<service>").<method>(...)`, clients held in variables, and clients
  that escape into a factory (`lambda: aws.client("kms")`): for those, every call of one of the
  service's operation names counts. Method names become IAM actions through botocore's service
  model (`send_message_batch` → SendMessageBatch), and the batch operations IAM authorizes with
  the single action (sqs:SendMessageBatch → sqs:SendMessage). The resource is read from the call
  (`QueueUrl=`, `KeyId=`, `SecretId=`, `Name=`, `TableName=`, `Bucket=`) when it is a constant or
  a `config.<setting>()` with a default; otherwise RESOURCE_HINTS must say it.
- PynamoDB: the Model classes and their indexes (table and index names from their Meta), and the
  operations called on a class (`get`, `query`, `scan`, `batch_get`, ...), an item (`save`,
  `update`, `delete`, `refresh`), an index (`query`, `scan`) or a transaction.
- What runs with the functions' role without a call in the code: Lambda's SQS event source
  mapping on each `on_sqs_message` queue, CloudWatch Logs for each function, and kms:Decrypt of
  the data key that DynamoDB, Secrets Manager and SSM need from the caller to read what it
  encrypts.

python-amazon-sp-api and Powertools need nothing: the last tests show that they make no AWS call.
Known limit: a PynamoDB model passed to another function as an argument is not followed, and
`.get(...)` on an object the detector cannot type is not reported (dictionaries use it too).
"""
from __future__ import annotations

import ast
import json
import os
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest

from infra import policy as iam_policy

REPO = Path(__file__).resolve().parents[2]
STAGE = "dev"
REGION, ACCOUNT = "eu-west-1", "123456789012"  # sample ARNs: the policy's "*" must match them
SAMPLE_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"

# Calls whose resource is a runtime value: (file, function, action) → (service, resource names).
def _task_queue_names() -> tuple[str, ...]:
    from chalicelib import registry

    return tuple(sorted({registry.queue_of(kind).name(STAGE) for kind in registry.TASK_KINDS}))


def _every_queue_name() -> tuple[str, ...]:
    from chalicelib import resources

    return tuple(name for q in resources.QUEUES for name in (q.name(STAGE), q.dlq_name(STAGE)))


# Where in its bucket a site's keys are (a grant may be narrowed to that prefix).
KEY_PREFIXES = {("chalicelib/flows/settlements/store.py", "SettlementFiles.put"): "settlements/",
                ("chalicelib/flows/settlements/store.py", "SettlementFiles.lines"): "settlements/"}
RESOURCE_HINTS: dict[tuple[str, str, str], tuple[str, tuple[str, ...]]] = {
    # SqsTaskQueue sends each task to the queue its kind travels on (registry.queue_of).
    ("chalicelib/core/queues.py", "SqsTaskQueue.flush", "sqs:SendMessage"): ("sqs", _task_queue_names()),
    # core.api.health() asks for the depth of every queue and dead-letter queue, by their config URLs.
    ("chalicelib/core/queues.py", "queue_depths", "sqs:GetQueueAttributes"): ("sqs", _every_queue_name()),
    # Data keys are made under the deployment's key (config.data_key_id, the alias); Decrypt names
    # no key (the ciphertext does): it is the same one.
    ("chalicelib/core/datakeys.py", "DataKeys._key", "kms:GenerateDataKey"): ("kms", (f"alias/sellerops-{STAGE}",)),
    ("chalicelib/core/datakeys.py", "DataKeys._decrypted", "kms:Decrypt"): ("kms", (f"alias/sellerops-{STAGE}",)),
    ("chalicelib/core/datakeys.py", "DataKeys.open_", "kms:Decrypt"): ("kms", (f"alias/sellerops-{STAGE}",)),
    # The invoice bucket (config.invoice_bucket, the stack's InvoiceBucketName output).
    **{("chalicelib/flows/settlements/store.py", site, action): ("s3", (f"sellerops-{STAGE}-invoices-{ACCOUNT}",))
       for site, action in (("SettlementFiles.put", "s3:PutObject"), ("SettlementFiles.lines", "s3:GetObject"))},
    **{("chalicelib/flows/invoices/store.py", site, action): ("s3", (f"sellerops-{STAGE}-invoices-{ACCOUNT}",))
       for site, action in (("S3Archive.put", "s3:PutObject"), ("S3Archive.put", "s3:GetObject"),
                            ("S3Archive.put", "s3:PutObjectRetention"), ("S3Archive.get", "s3:GetObject"),
                            ("S3Archive.url", "s3:GetObject"))},
    # The alerts topic (config.alerts_topic_arn, the stack's AlertsTopicArn output).
    ("chalicelib/core/alerts.py", "SnsAlerts.publish", "sns:Publish"): ("sns", (f"sellerops-{STAGE}-alerts",)),
}

# IAM authorizes these operations with another action.
ACTION_ALIASES = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:DeleteObjects": "s3:DeleteObject",
    "dynamodb:TransactGetItems": "dynamodb:GetItem",
}
# boto3 helpers that are not operations of the service model.
CLIENT_HELPERS = {
    "upload_file": "PutObject", "upload_fileobj": "PutObject",
    "download_file": "GetObject", "download_fileobj": "GetObject",
}
CLIENT_NON_CALLS = {"can_paginate", "close"}  # (a waiter calls operations: get_waiter is reported)
# Where a client is built for a service named by the caller (whose calls are followed instead).
CLIENT_WRAPPERS = {("chalicelib/core/aws.py", "client")}
RESOURCE_ARGUMENT = {"sqs": "QueueUrl", "kms": "KeyId", "secretsmanager": "SecretId", "ssm": "Name",
                     "dynamodb": "TableName", "s3": "Bucket"}

# PynamoDB → DynamoDB actions.
CLASS_OPS = {"get": "GetItem", "query": "Query", "scan": "Scan", "count": "Query", "batch_get": "BatchGetItem",
             "batch_write": "BatchWriteItem", "exists": "DescribeTable", "describe_table": "DescribeTable",
             "create_table": "CreateTable", "delete_table": "DeleteTable", "update_ttl": "UpdateTimeToLive"}
ITEM_OPS = {"save": "PutItem", "update": "UpdateItem", "delete": "DeleteItem", "refresh": "GetItem"}
INDEX_OPS = {"query": "Query", "scan": "Scan", "count": "Query"}
TRANSACT_WRITE_OPS = {"save": "PutItem", "update": "UpdateItem", "delete": "DeleteItem",
                      "condition_check": "ConditionCheckItem"}
TRANSACT_GET_OPS = {"get": "GetItem"}
# In a module that imports pynamodb, these methods on an object the detector cannot type are
# reported, so that a DynamoDB call it cannot follow fails the test instead of passing unseen.
SUSPECT_OPS = (set(CLASS_OPS) | set(ITEM_OPS) | set(INDEX_OPS)) - {"get"}

ESM_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")
FUNCTION_DECORATORS = {"on_sqs_message", "schedule", "authorizer", "lambda_function", "on_s3_event",
                       "on_sns_message", "on_cw_event", "on_ws_message", "on_ws_connect", "on_ws_disconnect"}


@dataclass(frozen=True)
class Need:
    action: str
    resource: str  # a concrete sample ARN
    source: str
    alias: str | None = None  # KMS: the alias of the key used
    via: str | None = None  # KMS: the service that calls it on the caller's behalf (None: the code itself)

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}{f' ({self.alias})' if self.alias else ''}, from {self.source}"


@dataclass
class Findings:
    needs: list[Need]
    unresolved: list[str]  # calls whose action or resource the detector could not tell
    hints_used: set[tuple[str, str, str]]


# ---------------------------------------------------------------------------------- resources

def _dev_config(name: str, args: list) -> str | None:
    """A `config.<name>(*args)` value for the dev stage in AWS: the setting's default."""
    from chalicelib import config

    fn = getattr(config, name, None)
    if not callable(fn):
        return None
    with mock.patch.dict(os.environ, {"SELLEROPS_STAGE": STAGE}, clear=True):
        try:
            value = fn(*args)
        except RuntimeError:  # a setting without a default (queue URLs): see RESOURCE_HINTS
            return None
    return value if isinstance(value, str) else None


def _declared(node: ast.AST) -> object | None:
    """`resources.<NAME>`: a resource of chalicelib/resources.py."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "resources":
        from chalicelib import resources

        return getattr(resources, node.attr, None)
    return None


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "config" and not node.keywords):
        args = [a.value if isinstance(a, ast.Constant) else _declared(a) for a in node.args]
        if all(a is not None for a in args):
            return _dev_config(node.func.attr, args)
    return None


def sample_arn(service: str, name: str) -> tuple[str, str | None]:
    """The ARN IAM evaluates for `name` (as the code passes it), and the KMS alias if any."""
    if name.startswith("arn:"):
        return name, None
    if service == "sqs":
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{urlsplit(name).path.rsplit('/', 1)[-1] or name}", None
    if service == "kms":
        return ((SAMPLE_KEY_ARN, name) if name.startswith("alias/")
                else (f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}", None))
    if service == "secretsmanager":
        return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-Ab12Cd", None
    if service == "ssm":
        return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{name.lstrip('/')}", None
    if service == "dynamodb":
        return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}", None
    if service == "s3":
        return f"arn:aws:s3:::{name}", None
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{name}", None


# ---------------------------------------------------------------------------------- botocore

@cache
def _operations(service: str) -> tuple[str, dict[str, str]]:
    """The IAM prefix of a boto3 service and its operations, snake_case → PascalCase."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    prefix = model.metadata.get("signingName") or model.endpoint_prefix
    return prefix, {xform_name(op): op for op in model.operation_names}


def client_action(service: str, method: str, call: ast.Call) -> list[str] | None:
    prefix, operations = _operations(service)
    if method in ("generate_presigned_url", "generate_presigned_post"):
        client_method = next((_literal(k.value) for k in call.keywords if k.arg == "ClientMethod"), None)
        if client_method is None and call.args:
            client_method = _literal(call.args[0])
        method = client_method or ("put_object" if method == "generate_presigned_post" else "")
    elif method == "get_paginator":
        method = _literal(call.args[0]) if call.args else ""
    if method in CLIENT_HELPERS:
        op = CLIENT_HELPERS[method]
    elif method in operations:
        op = operations[method]
    else:
        return None
    if service == "dynamodb" and op == "TransactWriteItems":
        return None  # authorized per item (PutItem, UpdateItem, ...): name the resources in a hint
    action = f"{prefix}:{op}"
    actions = [ACTION_ALIASES.get(action, action)]
    if action == "s3:PutObject" and any(k.arg == "ObjectLockRetainUntilDate" for k in call.keywords):
        actions.append("s3:PutObjectRetention")  # IAM wants it for a put that sets its own retention
    return actions


# ---------------------------------------------------------------------------------- the detector

def _is_aws_client_call(node: ast.AST) -> str | None:
    """`aws.client("svc")` or `boto3.client("svc")` → "svc" ("?" when the service is not a constant)."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
            and isinstance(node.func.value, ast.Name) and node.func.value.id in ("aws", "boto3")):
        service = _literal(node.args[0]) if node.args else None
        return service or "?"
    return None


# Objects built in the code that share an operation's name with an AWS client but call no AWS
# service (AES-GCM's encrypt/decrypt, in chalicelib/core/pages.py).
NOT_AWS = {"AESGCM"}
# Mixins of PynamoDB models (core/dynamo.py) whose methods are the model's own operations: a
# model's call is found where the model is called, `row.update(...)`, not inside the mixin.
MODEL_MIXINS = {"TellsWhatRefused"}


def _is_not_aws(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in NOT_AWS


def _imports_pynamodb(tree: ast.AST) -> bool:
    return any((isinstance(n, ast.ImportFrom) and (n.module or "").startswith("pynamodb"))
               or (isinstance(n, ast.Import) and any(a.name.startswith("pynamodb") for a in n.names))
               for n in ast.walk(tree))


def _base_names(cls: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else b.attr for b in cls.bases if isinstance(b, (ast.Name, ast.Attribute))}


def _meta_value(cls: ast.ClassDef, key: str) -> str | None:
    for item in cls.body:
        if isinstance(item, ast.ClassDef) and item.name == "Meta":
            for stmt in item.body:
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == key for t in stmt.targets):
                    return _literal(stmt.value)
    return None


@dataclass
class _Model:
    table: str | None
    indexes: dict[str, str]  # attribute → index name


def _functions(tree: ast.AST) -> Iterable[tuple[str, ast.AST, ast.ClassDef | None]]:
    """Every function with its qualified name and enclosing class (module level as "<module>")."""
    yield "<module>", tree, None

    def walk(node, prefix, cls):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                yield name, child, cls
                yield from walk(child, f"{name}.", cls)
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.", child)
            else:
                yield from walk(child, prefix, cls)

    yield from walk(tree, "", None)


def _own_nodes(fn: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a function (or module), without the bodies of the functions and classes
    nested in it (a nested function's decorators and default values do belong to it)."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend([*node.decorator_list, *node.args.defaults, *[d for d in node.args.kw_defaults if d]])
        elif isinstance(node, ast.ClassDef):
            stack.extend([*node.decorator_list, *node.bases])
        else:
            stack.extend(ast.iter_child_nodes(node))


def find_aws_calls(sources: dict[str, str]) -> Findings:
    """Every AWS call made by the given sources ({relative path: text})."""
    trees = {path: ast.parse(text, filename=path) for path, text in sources.items()}
    parents: dict[ast.AST, ast.AST] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node

    # PynamoDB models and indexes, anywhere (chalicelib builds them inside a function).
    class_defs = [node for tree in trees.values() for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    index_names = {cls.name: _meta_value(cls, "index_name") or cls.name for cls in class_defs
                   if _base_names(cls) & {"GlobalSecondaryIndex", "LocalSecondaryIndex"}}
    models: dict[str, _Model] = {}
    for cls in class_defs:
        if "Model" in _base_names(cls):
            indexes = {target.id: index_names[stmt.value.func.id]
                       for stmt in cls.body
                       if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)
                       and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id in index_names
                       for target in stmt.targets if isinstance(target, ast.Name)}
            models[cls.name] = _Model(_meta_value(cls, "table_name"), indexes)

    # Registries of models: `return Holder(ModelA, ModelB)`, Holder's fields in order → f().field.
    fields = {cls.name: [s.target.id for s in cls.body
                         if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
              for cls in class_defs}
    registries: dict[str, dict[str, str]] = {}
    for tree in trees.values():
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for ret in ast.walk(fn):
                if (isinstance(ret, ast.Return) and isinstance(ret.value, ast.Call)
                        and isinstance(ret.value.func, ast.Name) and fields.get(ret.value.func.id)):
                    names = [a.id if isinstance(a, ast.Name) else None for a in ret.value.args]
                    mapping = {f: n for f, n in zip(fields[ret.value.func.id], names, strict=False) if n in models}
                    if mapping:
                        registries[fn.name] = mapping

    needs: list[Need] = []
    unresolved: list[str] = []
    hints_used: set[tuple[str, str, str]] = set()
    escaped: dict[str, str] = {}  # service → where a client escaped (into a factory, an attribute, an argument)

    for path, tree in trees.items():
        uses_pynamodb = _imports_pynamodb(tree)
        for qualname, fn, cls in _functions(tree):
            methods = {m.name: m for m in (cls.body if cls else [])
                       if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
            env: dict[str, set[tuple]] = {}

            def types(node: ast.AST, depth: int = 0, env: dict[str, set[tuple]] = env,
                      methods: dict[str, ast.AST] = methods) -> set[tuple]:
                """What an expression holds: ("client", service), ("class", model), ("item", model),
                ("attribute", model), ("index", model, index name), ("results", model, index name or None),
                ("transact", kind)."""
                if depth > 6:
                    return set()
                service = _is_aws_client_call(node)
                if service:
                    return {("client", service)}
                if isinstance(node, ast.Name):
                    return env.get(node.id) or ({("class", node.id)} if node.id in models else set())
                if isinstance(node, ast.Attribute):
                    base = node.value
                    if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id in registries:
                        model = registries[base.func.id].get(node.attr)
                        return {("class", model)} if model else set()
                    # An index, or an attribute (whose .exists(), .set(), ... only build expressions).
                    return {("index", t[1], models[t[1]].indexes[node.attr]) if node.attr in models[t[1]].indexes
                            else ("attribute", t[1]) for t in types(base, depth + 1) if t[0] == "class"}
                if isinstance(node, ast.Call):
                    func = node.func
                    if isinstance(func, ast.Name) and func.id in ("TransactWrite", "TransactGet"):
                        return {("transact", func.id)}
                    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                            and func.value.id == "self" and func.attr in methods):
                        return {t for ret in ast.walk(methods[func.attr])
                                if isinstance(ret, ast.Return) and ret.value is not None
                                for t in types(ret.value, depth + 1)}
                    if isinstance(func, ast.Attribute):
                        receiver = types(func.value, depth + 1)
                        if func.attr == "get":
                            return {("item", t[1]) for t in receiver if t[0] == "class"}
                        if func.attr in ("query", "scan", "batch_get"):
                            return {("results", t[1], t[2] if t[0] == "index" else None)
                                    for t in receiver if t[0] in ("class", "index")}
                        if func.attr == "batch_write":  # `with Model.batch_write() as batch: batch.save(item)`
                            return {("batch", t[1]) for t in receiver if t[0] == "class"}
                    return {("item", t[1]) for t in types(func, depth + 1) if t[0] == "class"}
                return set()

            own = list(_own_nodes(fn))
            for _ in range(3):  # flow-insensitive: a few passes settle chains of assignments
                for node in own:
                    pairs: list[tuple[ast.AST, set[tuple]]] = []
                    if isinstance(node, ast.Assign):
                        for target in node.targets:
                            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                                pairs += [(t, types(v)) for t, v in zip(target.elts, node.value.elts, strict=False)]
                            else:
                                pairs.append((target, types(node.value)))
                    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                        pairs.append((node.optional_vars, types(node.context_expr)))
                    elif isinstance(node, (ast.For, ast.comprehension)):
                        pairs.append((node.target, {("item", t[1]) for t in types(node.iter) if t[0] == "results"}))
                    for target, found in pairs:
                        if isinstance(target, ast.Name) and found:
                            env.setdefault(target.id, set()).update(found)

            for node in own:
                site = f"{path}:{getattr(node, 'lineno', '?')} {qualname}"
                parent = parents.get(node)
                service = _is_aws_client_call(node)
                if service == "?" and (path, qualname) not in CLIENT_WRAPPERS:
                    unresolved.append(f"{site}: a boto3 client whose service is not a constant")
                elif service and service != "?":
                    called = isinstance(parent, ast.Attribute) and isinstance(parents.get(parent), ast.Call) \
                        and parents[parent].func is parent
                    named = isinstance(parent, ast.Assign) and all(isinstance(t, ast.Name) for t in parent.targets)
                    if not called and not named:
                        escaped.setdefault(service, site)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    for t in env.get(node.id, ()):
                        if t[0] == "client" and not (isinstance(parent, ast.Attribute) and parent.value is node):
                            escaped.setdefault(t[1], site)
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                method, receiver = node.func.attr, node.func.value
                receiver_types = types(receiver)
                for t in receiver_types:
                    if t[0] == "client":
                        _client_need(t[1], method, node, path, qualname, site, needs, unresolved, hints_used)
                    elif t[0] == "class" and method in CLASS_OPS:
                        _table_need(models[t[1]].table, None, CLASS_OPS[method], site, needs, unresolved)
                    elif t[0] == "item" and method in ITEM_OPS:
                        _table_need(models[t[1]].table, None, ITEM_OPS[method], site, needs, unresolved)
                    elif t[0] == "batch" and method in ("save", "delete"):
                        _table_need(models[t[1]].table, None, "BatchWriteItem", site, needs, unresolved)
                    elif t[0] == "index" and method in INDEX_OPS:
                        _table_need(models[t[1]].table, t[2], INDEX_OPS[method], site, needs, unresolved)
                    elif t[0] == "transact":
                        ops = TRANSACT_WRITE_OPS if t[1] == "TransactWrite" else TRANSACT_GET_OPS
                        if method in ops:
                            targets = {m[1] for a in node.args[:1] for m in types(a) if m[0] in ("class", "item")}
                            if not targets:
                                unresolved.append(f"{site}: {method} in a transaction, "
                                                  "on a model the detector cannot tell")
                            for model in targets:
                                _table_need(models[model].table, None, ops[method], site, needs, unresolved)
                mixin_own = cls is not None and cls.name in MODEL_MIXINS and ast.unparse(receiver) == "super()"
                if not receiver_types and uses_pynamodb and method in SUSPECT_OPS and not mixin_own:
                    unresolved.append(f"{site}: .{method}(...) on {ast.unparse(receiver)}, which may be a PynamoDB "
                                      "model the detector cannot follow")

    # A client that escaped (a factory, an attribute, an argument) is followed by its operations'
    # names: every call of one of them counts, whatever the receiver.
    for service, place in escaped.items():
        _, operations = _operations(service)
        for path, tree in trees.items():
            for qualname, fn, _cls in _functions(tree):
                for node in _own_nodes(fn):
                    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                            and node.func.attr in operations and not _is_aws_client_call(node.func.value)
                            and not _is_not_aws(node.func.value)):
                        site = f"{path}:{node.lineno} {qualname} (through the {service} client of {place})"
                        _client_need(service, node.func.attr, node, path, qualname, site, needs, unresolved, hints_used)
    return Findings(sorted(set(needs), key=str), sorted(set(unresolved)), hints_used)


def _keywords(call: ast.Call) -> dict[str, ast.AST]:
    """A call's keyword arguments, with those of a `Params={...}` dict (presigned URLs)."""
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    params = keywords.get("Params")
    if isinstance(params, ast.Dict):
        keywords.update({k.value: v for k, v in zip(params.keys, params.values, strict=False)
                         if isinstance(k, ast.Constant) and isinstance(k.value, str)})
    return keywords


def _client_need(service, method, call, path, qualname, site, needs, unresolved, hints_used) -> None:
    if method in CLIENT_NON_CALLS:
        return
    actions = client_action(service, method, call)
    if actions is None:
        unresolved.append(f"{site}: {service}.{method} is not an operation the detector can map to an IAM action")
        return
    keywords = _keywords(call)
    for action in actions:
        resource_service, names = service, ()
        name = _literal(keywords.get(RESOURCE_ARGUMENT.get(service, "")))
        if name:
            names = (name,)
        elif (path, qualname, action) in RESOURCE_HINTS:
            hints_used.add((path, qualname, action))
            resource_service, names = RESOURCE_HINTS[(path, qualname, action)]
        if not names:
            unresolved.append(f"{site}: {action} on a resource the detector cannot tell; "
                              f"add ({path!r}, {qualname!r}, {action!r}) to RESOURCE_HINTS")
            continue
        for name in names:
            arn, alias = sample_arn(resource_service, name)
            if resource_service == "s3" and "Key" in keywords:
                arn = f"{arn}/{KEY_PREFIXES.get((path, qualname), '')}sample-key"
            needs.append(Need(action, arn, site, alias))


def _table_need(table, index, op, site, needs, unresolved) -> None:
    if not table:
        unresolved.append(f"{site}: dynamodb:{op} on a model whose table name the detector cannot tell")
        return
    arn, _ = sample_arn("dynamodb", table)
    needs.append(Need(f"dynamodb:{op}", f"{arn}/index/{index}" if index else arn, site))


# ---------------------------------------------------------------------------------- what runs without a call

def app_functions() -> set[str]:
    """Every Lambda function of the Chalice app, by the name Chalice gives it in its config
    (as Chalice sees it after importing app.py: decorators, the registry's schedules and routes)."""
    import app as chalice_app

    app = chalice_app.app
    functions = {source.name for source in app.event_sources}
    functions |= {auth.name for auth in app.builtin_auth_handlers}
    if app.routes:
        functions.add("api_handler")  # every route runs in the one API handler
    return functions


def app_needs(function: str) -> list[Need]:
    """What runs with a function's role without a call in the code: the event source mapping of
    its queue, and its log group."""
    from chalicelib import resources

    consumed = {q.handler: q for q in resources.QUEUES}
    needs = []
    if function in consumed:
        arn, _ = sample_arn("sqs", consumed[function].name(STAGE))
        needs += [Need(action, arn, f"app.py {function} (Lambda's event source mapping)") for action in ESM_ACTIONS]
    name, logical_id = iam_policy.function_names(STAGE, function)
    # Deployed by `chalice deploy` (Chalice's name) or as the SAM template of `chalice package`
    # (CloudFormation's: <stack>-<logical id>-<suffix>).
    for deployed in (name, f"sellerops-{STAGE}-{logical_id}-A1b2C3d4E5f6"):
        group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{deployed}"
        source = f"Lambda writing the logs of {deployed}"
        needs += [Need("logs:CreateLogGroup", group, source),
                  Need("logs:CreateLogStream", f"{group}:log-stream:2026/01/01/[$LATEST]0123abcd", source),
                  Need("logs:PutLogEvents", f"{group}:log-stream:2026/01/01/[$LATEST]0123abcd", source)]
    return needs


def implied_needs(needs: list[Need]) -> list[Need]:
    """infra/template.yaml encrypts the tables, the SP-API secret and the alerts topic with the
    data key, and infra/deploy.py the SSM SecureStrings: reading them makes DynamoDB, Secrets
    Manager and SSM call kms:Decrypt with the caller's permissions, on its behalf, and
    publishing to the topic makes SNS call GenerateDataKey and Decrypt."""
    data_key = _dev_config("data_key_id", [])
    implied = []
    for service, why in (("dynamodb", "DynamoDB reading the tables, encrypted with the data key"),
                         ("secretsmanager", "Secrets Manager reading the SP-API secret, encrypted with the data key"),
                         ("ssm", "SSM decrypting a SecureString under the data key")):
        if any(n.action.startswith(f"{service}:") for n in needs):
            implied.append(Need("kms:Decrypt", SAMPLE_KEY_ARN, why, data_key, via=f"{service}.{REGION}.amazonaws.com"))
    if any(n.action == "s3:PutObject" for n in needs):  # the invoice bucket's SSE-KMS
        implied += [Need(action, SAMPLE_KEY_ARN, "S3 encrypting an invoice under the data key", data_key,
                         via=f"s3.{REGION}.amazonaws.com") for action in ("kms:GenerateDataKey", "kms:Decrypt")]
    elif any(n.action == "s3:GetObject" for n in needs):
        implied.append(Need("kms:Decrypt", SAMPLE_KEY_ARN, "S3 decrypting an invoice (a presigned link)", data_key,
                            via=f"s3.{REGION}.amazonaws.com"))
    if any(n.action == "sns:Publish" for n in needs):
        implied += [Need(action, SAMPLE_KEY_ARN, "SNS encrypting a message for the alerts topic", data_key,
                         via=f"sns.{REGION}.amazonaws.com") for action in ("kms:GenerateDataKey", "kms:Decrypt")]
    return implied


def site_of(need: Need) -> str:
    """"path:Qualified.name" of the code that makes the call."""
    path, _, rest = need.source.partition(":")
    qualname = rest.split(" ")[1] if " " in rest else rest
    return f"{path}:{qualname}"


def units_of(need: Need) -> set[str]:
    site = site_of(need)
    return {name for name, unit in iam_policy.UNITS.items() if any(site.startswith(prefix) for prefix in unit.sites)}


def function_needs(findings: Findings, function: str) -> list[Need]:
    """The calls a function makes: those of the units it runs, what Lambda does for it, and the
    Decrypt the services it reads make on its behalf."""
    mine = set(iam_policy.FUNCTIONS[function])
    needs = [n for n in findings.needs if units_of(n) & mine] + app_needs(function)
    return needs + implied_needs(needs)


# ---------------------------------------------------------------------------------- the policy

@dataclass(frozen=True)
class Grant:
    sid: str
    action: str
    resource: str
    alias: str | None
    via: tuple[str, ...] | None = None  # kms:ViaService: only through these services

    def allows(self, need: Need) -> bool:
        return (fnmatchcase(need.action, self.action) and fnmatchcase(need.resource, self.resource)
                and (self.alias is None or need.alias == self.alias)
                and (self.via is None or (need.via is not None and any(fnmatchcase(need.via, v) for v in self.via))))

    def __str__(self) -> str:
        return f"{self.sid}: {self.action} on {self.resource}{f' (key alias {self.alias})' if self.alias else ''}"


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def grants(document: dict) -> list[Grant]:
    result = []
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow", statement
        alias, via = None, None
        condition = dict(statement.get("Condition") or {})
        # A narrowing to some partition keys (the API's MCF recipients): the code's keys are not
        # known statically; test_the_api_seals_only_mcf_recipients checks it.
        keys = condition.pop("ForAllValues:StringLike", None)
        assert keys is None or list(keys) == ["dynamodb:LeadingKeys"], f"unknown condition in {statement['Sid']}"
        if condition:
            aliases = condition.pop("ForAnyValue:StringEquals")
            assert list(aliases) == ["kms:ResourceAliases"], f"unknown condition in {statement['Sid']}"
            (alias,) = _as_list(aliases["kms:ResourceAliases"])
            if "StringLike" in condition:
                services = condition.pop("StringLike")
                assert list(services) == ["kms:ViaService"], f"unknown condition in {statement['Sid']}"
                via = tuple(_as_list(services["kms:ViaService"]))
            assert not condition, f"the checker does not understand the condition of {statement['Sid']}"
        for action in _as_list(statement["Action"]):
            for resource in _as_list(statement["Resource"]):
                result.append(Grant(statement.get("Sid", "?"), action, resource, alias, via))
    return result


def ungranted(needs: list[Need], document: dict) -> list[Need]:
    every = grants(document)
    return [need for need in needs if not any(g.allows(need) for g in every)]


def unused(needs: list[Need], document: dict) -> list[Grant]:
    return [g for g in grants(document) if not any(g.allows(need) for need in needs)]


# ---------------------------------------------------------------------------------- the deployed code

def deployed_sources() -> dict[str, str]:
    paths = [REPO / "app.py", *sorted((REPO / "chalicelib").rglob("*.py"))]
    return {p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8") for p in paths}


@pytest.fixture(scope="module")
def findings() -> Findings:
    return find_aws_calls(deployed_sources())


@pytest.fixture(scope="module")
def all_needs(findings) -> list[Need]:
    needs = list(findings.needs)
    for function in iam_policy.FUNCTIONS:
        needs += app_needs(function)
    return needs + implied_needs(needs)


def test_the_detector_can_tell_every_call(findings):
    assert not findings.unresolved, "\n".join(findings.unresolved)


def test_every_function_of_the_app_has_its_policy():
    assert set(iam_policy.FUNCTIONS) == app_functions()
    assert set(iam_policy.CONSUMERS) <= set(iam_policy.FUNCTIONS)


def test_every_aws_call_belongs_to_a_unit(findings):
    orphans = [str(n) for n in findings.needs if not units_of(n)]
    assert not orphans, "add their site to a unit of infra/policy.py UNITS:\n" + "\n".join(orphans)


@pytest.mark.parametrize("function", sorted(iam_policy.FUNCTIONS))
def test_every_call_a_function_makes_is_granted_by_its_policy(findings, function):
    missing = ungranted(function_needs(findings, function), iam_policy.policy_document(STAGE, function))
    assert not missing, f"not granted to {function} by infra/policy.py:\n" + "\n".join(f"    {n}" for n in missing)


@pytest.mark.parametrize("function", sorted(iam_policy.FUNCTIONS))
def test_every_grant_of_a_function_is_used_by_it(findings, function):
    extra = unused(function_needs(findings, function), iam_policy.policy_document(STAGE, function))
    assert not extra, f"granted to {function} but not called:\n" + "\n".join(f"    {g}" for g in extra)


def test_the_api_and_the_authorizer_read_no_credentials_and_no_buyer_data_and_the_intake_calls_no_amazon():
    def actions(function):
        return {(g.action, g.resource, g.via) for g in grants(iam_policy.policy_document(STAGE, function))}

    for function in ("api_handler", "bearer_token"):
        granted = actions(function)
        assert not any(a == "secretsmanager:GetSecretValue" for a, _, _ in granted), function
        # The API handler seals an MCF order's recipient (PutItem, GenerateDataKey); it never
        # reads buyer data back, nor decrypts a data key itself.
        assert {a for a, r, _ in granted if "buyer-data" in r} <= ({"dynamodb:PutItem"} if function == "api_handler"
                                                                    else set()), function
        assert all(via for a, _, via in granted if a == "kms:Decrypt"), f"{function}: Decrypt only through a service"
        assert {a for a, _, via in granted if a.startswith("kms:") and not via} <= {"kms:GenerateDataKey"}, function
    intake = actions("intake")
    assert not any(a.startswith("secretsmanager:") for a, _, _ in intake), "the intake holds no SP-API credentials"
    assert all(via for a, _, via in intake if a.startswith("kms:")), "the intake cannot decrypt buyer data"


def test_the_api_seals_only_mcf_recipients():
    statements = [st for st in iam_policy.policy_document(STAGE, "api_handler")["Statement"]
                  if "buyer-data" in json.dumps(st["Resource"])]
    assert [(st["Action"], st["Condition"]) for st in statements] == [
        (["dynamodb:PutItem"], {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["mcf:*"]}})]
    from chalicelib.flows.fulfillment.service import recipient_key

    assert recipient_key("A1", "SHOP-1", "abc").startswith("mcf:")


def test_every_resource_hint_is_used(findings):
    stale = set(RESOURCE_HINTS) - findings.hints_used
    assert not stale, f"RESOURCE_HINTS no call matches any more: {sorted(stale)}"


def test_the_detector_finds_the_known_calls(all_needs):
    actions = {n.action for n in all_needs}
    assert {"sqs:SendMessage", "sqs:GetQueueAttributes", "kms:GenerateDataKey", "kms:Decrypt",
            "secretsmanager:GetSecretValue",
            "ssm:GetParameter", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:Query",
            "sqs:ReceiveMessage", "logs:PutLogEvents"} <= actions
    index_queries = {n.resource.rsplit("/", 1)[-1] for n in all_needs if "/index/" in n.resource}
    assert index_queries == set(iam_policy.ORDERS_INDEXES) | {"by_expiry", "by_pending", "by_attention",
                                                              "by_seller_issued", "by_open", "by_seller", "by_state",
                                                              "by_seller_updated", "by_reorder", "by_oversold",
                                                              "by_push"}


def every_function_document(stage: str = STAGE, **narrowing) -> dict:
    """All functions' statements in one document (the detector's self-tests check against it)."""
    statements = []
    for function in iam_policy.FUNCTIONS:
        for statement in iam_policy.policy_document(stage, function, **narrowing)["Statement"]:
            statements.append({**statement, "Sid": f"{function}.{statement['Sid']}"})
    return {"Version": "2012-10-17", "Statement": statements}


def test_no_wildcard_action_and_no_bare_wildcard_resource():
    for stage in (STAGE, "prod"):
        for statement in every_function_document(stage)["Statement"]:
            assert "NotAction" not in statement and "NotResource" not in statement, statement["Sid"]
            for action in _as_list(statement["Action"]):
                assert action != "*" and "*" not in action, f"{statement['Sid']}: wildcard action {action}"
            for resource in _as_list(statement["Resource"]):
                assert resource != "*", f"{statement['Sid']}: bare '*' resource"
                assert (f"sellerops-{stage}" in resource or f"sellerops/{stage}/" in resource
                        or resource.endswith(":key/*")), \
                    f"{statement['Sid']}: {resource} does not name a resource of stage {stage}"


# ---------------------------------------------------------------------------------- the detector itself

def _check_snippet(code: str) -> tuple[Findings, list[Need]]:
    findings = find_aws_calls({"chalicelib/snippet.py": textwrap.dedent(code)})
    return findings, ungranted(findings.needs, every_function_document())


def test_a_new_call_without_a_grant_fails():
    findings, missing = _check_snippet("""
        from chalicelib.core import aws

        def archive(pdf: bytes) -> None:
            aws.client("s3").put_object(Bucket="sellerops-dev-invoices", Key="2026/INV-1.pdf", Body=pdf)
    """)
    assert [n.action for n in findings.needs] == ["s3:PutObject"]
    assert [n.action for n in missing] == ["s3:PutObject"]
    assert "chalicelib/snippet.py:5 archive" in str(missing[0])


def test_the_detector_follows_client_variables_and_factories():
    findings, missing = _check_snippet("""
        from chalicelib import config
        from chalicelib.core import aws

        def drop(handles):
            sqs = aws.client("sqs")
            sqs.delete_message_batch(QueueUrl="https://sqs.eu-west-1.amazonaws.com/123456789012/sellerops-dev-tasks-dlq",
                                     Entries=handles)

        class Keys:
            def __init__(self, factory=lambda: aws.client("kms")):
                self._kms = factory

            def new_key(self):
                return self._kms().generate_data_key(KeyId=config.data_key_id(), KeySpec="AES_256")
    """)
    assert not findings.unresolved
    assert {(n.action, n.resource.rsplit(":", 1)[-1], n.alias) for n in findings.needs} == {
        ("sqs:DeleteMessage", "sellerops-dev-tasks-dlq", None),
        ("kms:GenerateDataKey", SAMPLE_KEY_ARN.rsplit(":", 1)[-1], "alias/sellerops-dev"),
    }
    # DeleteMessage is granted on the consumed queues only, not on a dead-letter queue.
    assert {n.action for n in missing} == {"sqs:DeleteMessage"}


def test_the_detector_sees_pynamodb_operations():
    findings, missing = _check_snippet("""
        from pynamodb.models import Model
        from pynamodb.attributes import UnicodeAttribute
        from chalicelib import config, resources

        class Row(Model):
            class Meta:
                table_name = config.table_name(resources.STATE)
            pk = UnicodeAttribute(hash_key=True)

        def purge():
            for row in Row.scan():
                row.delete()
            Row.batch_get(["a", "b"])
            Row("x").save()
    """)
    assert not findings.unresolved
    state = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/sellerops-dev-state"
    assert {(n.action, n.resource) for n in findings.needs} == {
        ("dynamodb:Scan", state), ("dynamodb:DeleteItem", state), ("dynamodb:BatchGetItem", state),
        ("dynamodb:PutItem", state)}
    # PutItem too: the policy grants it on the buyer-data table only, not on the state table.
    assert {n.action for n in missing} == {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchGetItem",
                                           "dynamodb:PutItem"}


def test_a_dynamodb_call_the_detector_cannot_follow_fails():
    findings = find_aws_calls({"chalicelib/m.py": textwrap.dedent("""
        from pynamodb.models import Model

        def purge(rows):
            for row in rows:
                row.delete()
    """)})
    assert findings.unresolved == [
        "chalicelib/m.py:6 purge: .delete(...) on row, which may be a PynamoDB model the detector cannot follow"]


def test_an_unreadable_resource_asks_for_a_hint():
    findings, _ = _check_snippet("""
        from chalicelib.core import aws

        def send(url, body):
            aws.client("sqs").send_message(QueueUrl=url, MessageBody=body)
    """)
    assert findings.unresolved and "RESOURCE_HINTS" in findings.unresolved[0]
    assert "sqs:SendMessage" in findings.unresolved[0]


def test_a_grant_without_a_call_is_reported():
    document = every_function_document()
    document["Statement"].append({"Sid": "Extra", "Effect": "Allow", "Action": ["s3:GetObject"],
                                  "Resource": "arn:aws:s3:::sellerops-dev-invoices-*/*"})
    needs = [Need("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:sellerops-dev-tasks", "test")]
    assert "Extra: s3:GetObject on arn:aws:s3:::sellerops-dev-invoices-*/*" in [str(g) for g in unused(needs, document)]


def test_the_data_key_grant_needs_the_stage_alias_and_for_the_api_a_service():
    document = every_function_document()
    other_key = Need("kms:Decrypt", SAMPLE_KEY_ARN, "test", "alias/some-other-key")
    data_key = Need("kms:Decrypt", SAMPLE_KEY_ARN, "test", f"alias/sellerops-{STAGE}")
    assert ungranted([other_key, data_key], document) == [other_key]
    api = iam_policy.policy_document(STAGE, "api_handler")
    directly = Need("kms:Decrypt", SAMPLE_KEY_ARN, "test", f"alias/sellerops-{STAGE}")
    via_dynamodb = Need("kms:Decrypt", SAMPLE_KEY_ARN, "test", f"alias/sellerops-{STAGE}",
                        via=f"dynamodb.{REGION}.amazonaws.com")
    assert ungranted([directly, via_dynamodb], api) == [directly], "the API decrypts only through DynamoDB or SSM"


# ---------------------------------------------------------------------------------- libraries

@pytest.fixture()
def no_aws(monkeypatch):
    """boto3 clients and sessions fail the test if anything asks for one."""
    import boto3
    import boto3.session

    def refuse(*args, **kwargs):
        raise AssertionError(f"an AWS client was created: {args} {kwargs}")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3, "resource", refuse)
    monkeypatch.setattr(boto3.session.Session, "client", refuse)
    monkeypatch.setattr(boto3.session.Session, "resource", refuse)


def test_sp_api_makes_no_aws_call_with_explicit_credentials(no_aws, monkeypatch):
    # Its Secrets Manager provider would read this variable; explicit credentials come first.
    monkeypatch.setenv("SP_API_AWS_SECRET_ID", "sellerops/dev/spapi")
    from sp_api.api import OrdersV20260101

    from chalicelib.core.spapi import SpApi

    class Credentials:
        def for_seller(self, seller_id):
            return {"refresh_token": "Atzr|test", "lwa_app_id": "amzn1.application-oa2-client.test",
                    "lwa_client_secret": "secret"}

    client = SpApi(credentials=Credentials()).client(OrdersV20260101, "A2EUQ1WTGCTBG2", "A1PA6795UKMFR9")
    assert client.credentials.lwa_app_id == "amzn1.application-oa2-client.test"


def test_powertools_makes_no_aws_call(no_aws, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Sellerops")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)  # set by the integration tests
    from aws_lambda_powertools import Logger, Metrics
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    Logger(service="sellerops-test").info("hello")
    metrics = Metrics(namespace="Sellerops", service="sellerops-test")
    metrics.add_metric(name="Tested", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    event = {"Records": [{"messageId": str(i), "receiptHandle": "h", "body": "{}", "attributes": {},
                          "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:sellerops-dev-intake",
                          "awsRegion": REGION} for i in range(2)]}

    def handle(record):
        if record.message_id == "1":
            raise ValueError("fails")
        return "ok"

    response = process_partial_response(event=event, record_handler=handle,
                                        processor=BatchProcessor(event_type=EventType.SQS,
                                                                 raise_on_entire_batch_failure=False))
    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}]}
    assert '"Tested"' in capsys.readouterr().out  # metrics go to stdout (EMF), not to an API


# ---------------------------------------------------------------------------------- the policy file

def test_the_dev_policy_files_are_what_infra_policy_generates():
    config = json.loads((REPO / ".chalice" / "config.json").read_text(encoding="utf-8"))
    assert config["autogen_policy"] is False
    functions = config["stages"]["dev"]["lambda_functions"]
    for function in iam_policy.FUNCTIONS:
        path = REPO / ".chalice" / iam_policy.policy_file("dev", function)
        assert path.read_text(encoding="utf-8") == iam_policy.render("dev", function), \
            "regenerate them: python -m infra.policy --stage dev"
        assert functions[function]["iam_policy_file"] == path.name, f"{function} has its own role's policy"


def test_write_policy_files(tmp_path):
    paths = iam_policy.write_policy_files("prod", project_dir=tmp_path)
    assert [p.name for p in paths] == [f"policy-prod-{f}.json" for f in iam_policy.FUNCTIONS]
    for path, function in zip(paths, iam_policy.FUNCTIONS, strict=True):
        assert json.loads(path.read_text(encoding="utf-8")) == iam_policy.policy_document("prod", function)
        assert "sellerops-dev" not in path.read_text(encoding="utf-8")


def test_region_and_account_narrow_every_arn():
    for function in iam_policy.FUNCTIONS:
        document = iam_policy.policy_document("prod", function, region="eu-west-1", account="123456789012")
        for grant in grants(document):
            if grant.action.startswith("s3:"):  # S3 ARNs name no region or account: the bucket's name carries it
                assert grant.resource.startswith("arn:aws:s3:::sellerops-prod-invoices-123456789012/"), grant
                continue
            assert grant.resource.startswith(f"arn:aws:{grant.action.split(':')[0]}:eu-west-1:123456789012:"), grant
            assert grant.via is None or all(".eu-west-1." in v for v in grant.via), grant


@pytest.mark.parametrize("stage", ["", "Dev", "dev*", "-dev", "dev-", "a/b", "x" * 21])
def test_a_stage_that_could_widen_the_policy_is_refused(stage):
    with pytest.raises(ValueError):
        iam_policy.policy_document(stage, "intake")


def test_the_stage_rule_is_the_template_rule():
    from infra.cfn_yaml import parse_template

    stage = parse_template((REPO / "infra" / "template.yaml").read_text(encoding="utf-8"))["Parameters"]["Stage"]
    assert (stage["AllowedPattern"], stage["MaxLength"]) == (iam_policy.STAGE_PATTERN, iam_policy.STAGE_MAX_LENGTH)
