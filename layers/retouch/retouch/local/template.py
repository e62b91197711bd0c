"""Read ``template.yaml`` into the resources the embedded stack creates.

Names and properties come from the template (with CloudFormation intrinsics resolved for a
local stack name, region and account), so the local stack cannot drift from what is deployed.
Only the intrinsics the template uses are supported: ``Ref``, ``Fn::Sub``, ``Fn::GetAtt``,
``Fn::If``, ``Fn::Equals``, ``Fn::Join``, ``Fn::Select``; anything else raises.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"  # moto's default account


_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: it reads the template in 0.04 s, the
pure-Python one in 0.4 s, on the way to every embedded stack's start."""


class _CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """YAML loader that understands CloudFormation short-form tags."""


def _tag(name: str) -> Any:
    full = name if name in ("Ref", "Condition") else f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {full: value}

    return construct


for _name in (
    "Ref",
    "Sub",
    "GetAtt",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "Base64",
    "GetAZs",
    "ImportValue",
    "Condition",
):
    _CfnLoader.add_constructor(f"!{_name}", _tag(_name))


def load_template(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def find_template(start: Path | None = None) -> Path:
    """``template.yaml`` in ``start`` or a parent folder, else next to this package's checkout."""
    candidates = []
    here = (start or Path.cwd()).resolve()
    candidates += [p / "template.yaml" for p in (here, *here.parents)]
    candidates.append(Path(__file__).resolve().parents[4] / "template.yaml")
    for candidate in candidates:
        if candidate.is_file() and "AWS::Serverless" in candidate.read_text(errors="ignore")[:4000]:
            return candidate
    raise FileNotFoundError("template.yaml not found; run from the Retouch checkout or pass --template")


@dataclass
class QueueSpec:
    logical_id: str
    name: str
    attributes: dict[str, str]
    dead_letter: str | None = None  # logical id of the DLQ
    max_receive_count: int | None = None


@dataclass
class SqsSource:
    queue: str  # logical id
    batch_size: int
    window_seconds: float
    max_concurrency: int
    report_failures: bool


@dataclass
class Route:
    method: str
    path: str
    pattern: re.Pattern[str]
    authorized: bool = True
    """False for routes whose event says ``Auth: {Authorizer: NONE}``."""


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    sqs: list[SqsSource] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    schedules: list[float] = field(default_factory=list)
    """Intervals (seconds) of ``Schedule`` events."""

    @property
    def module_path(self) -> Path:
        return self.code_uri / (self.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class StackModel:
    name: str
    region: str
    root: Path
    parameters: dict[str, str]
    buckets: dict[str, dict[str, Any]]
    queues: dict[str, QueueSpec]
    tables: dict[str, dict[str, Any]]
    functions: dict[str, FunctionSpec]
    api_cors: dict[str, Any]
    websocket_function: str | None = None
    """The function behind the WebSocket API's integration (its routes), if there is one."""

    def queue_url(self, endpoint: str, logical_id: str) -> str:
        return f"{endpoint}/{ACCOUNT_ID}/{self.queues[logical_id].name}"


class Resolver:
    """Resolves intrinsics against local physical names."""

    def __init__(self, template: dict[str, Any], stack: str, region: str, overrides: dict[str, str], endpoint: str) -> None:
        self.template = template
        self.resources = template.get("Resources", {})
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = overrides.get(name, spec.get("Default"))
            if value is None:
                raise ValueError(f"template parameter {name} has no default; pass it as an override")
            self.params[name] = value.split(",") if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str) else value
        self.pseudo = {
            "AWS::StackName": stack,
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self.endpoint = endpoint
        self.conditions: dict[str, bool | None] = {k: None for k in template.get("Conditions", {})}

    def condition(self, name: str) -> bool:
        if self.conditions.get(name) is None:
            self.conditions[name] = bool(self.resolve(self.template["Conditions"][name]))
        return bool(self.conditions[name])

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        res = self.resources.get(name)
        if res is None:
            raise KeyError(f"Ref to unknown {name}")
        kind, props = res["Type"], res.get("Properties", {})
        if kind == "AWS::SQS::Queue":
            return f"{self.endpoint}/{ACCOUNT_ID}/{self.resolve(props['QueueName'])}"
        if kind in ("AWS::S3::Bucket",):
            return self.resolve(props["BucketName"])
        if kind == "AWS::DynamoDB::Table":
            return self.resolve(props["TableName"])
        return f"local-{name}"  # resources the embedded stack does not emulate

    def get_att(self, name: str, attribute: str) -> Any:
        res = self.resources[name]
        kind, props = res["Type"], res.get("Properties", {})
        if kind == "AWS::SQS::Queue":
            queue_name = self.resolve(props["QueueName"])
            return {
                "Arn": f"arn:aws:sqs:{self.pseudo['AWS::Region']}:{ACCOUNT_ID}:{queue_name}",
                "QueueName": queue_name,
                "QueueUrl": self.ref(name),
            }[attribute]
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self.ref(name)}"
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{self.pseudo['AWS::Region']}:{ACCOUNT_ID}:table/{self.ref(name)}"
        return f"local-{name}-{attribute}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(parts[0], parts[1])
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self._sub_var(m.group(1), extra)), text)
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if key == "Fn::Equals":
                a, b = self.resolve(arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(i) for i in self.resolve(items))
            if key == "Fn::Select":
                index, items = self.resolve(arg)
                return items[int(index)]
            if key.startswith("Fn::"):
                raise NotImplementedError(f"{key} is not supported by the embedded stack")
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub_var(self, name: str, extra: dict[str, Any]) -> Any:
        if name in extra:
            return extra[name]
        if "." in name:
            res, att = name.split(".", 1)
            return self.get_att(res, att)
        return self.ref(name)


def rate_seconds(expression: str) -> float:
    """``rate(5 minutes)`` -> 300.0 (cron expressions are not emulated)."""
    m = re.fullmatch(r"rate\((\d+) (second|minute|hour|day)s?\)", expression.strip())
    if not m:
        raise NotImplementedError(f"schedule {expression!r}: only rate(...) expressions are emulated")
    return float(m.group(1)) * {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[m.group(2)]


def _route_pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "FifoQueue",
    "ContentBasedDeduplication",
)
"""The queue properties the emulator is given as queue attributes."""


def _queue_spec(logical: str, res: dict[str, Any], props: dict[str, Any], r: Resolver) -> QueueSpec:
    present = [k for k in QUEUE_ATTRIBUTES if k in props]
    attributes = {k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k]) for k in present}
    spec = QueueSpec(logical, props["QueueName"], attributes)
    redrive = res.get("Properties", {}).get("RedrivePolicy")
    if redrive:
        target = redrive["deadLetterTargetArn"]
        spec.dead_letter = target["Fn::GetAtt"][0]
        spec.max_receive_count = int(r.resolve(redrive["maxReceiveCount"]))
    return spec


def _function_spec(logical: str, res: dict[str, Any], props: dict[str, Any], r: Resolver, root: Path) -> FunctionSpec:
    globals_fn = r.template.get("Globals", {}).get("Function", {})
    env = {
        **r.resolve(globals_fn.get("Environment", {}).get("Variables", {})),
        **props.get("Environment", {}).get("Variables", {}),
    }
    spec = FunctionSpec(
        logical_id=logical,
        code_uri=root / props["CodeUri"],
        handler=props.get("Handler", globals_fn.get("Handler")),
        timeout=int(props.get("Timeout", globals_fn.get("Timeout", 3))),
        memory=int(props.get("MemorySize", globals_fn.get("MemorySize", 128))),
        environment={k: str(v) for k, v in env.items() if v is not None},
    )
    for event in res.get("Properties", {}).get("Events", {}).values():
        _add_event(spec, event, r)
    return spec


def _add_event(spec: FunctionSpec, event: dict[str, Any], r: Resolver) -> None:
    """The function's SQS event source, schedule or HTTP API route (other events are not emulated)."""
    eprops = event.get("Properties", {})
    if event["Type"] == "SQS":
        ep = r.resolve(eprops)
        spec.sqs.append(
            SqsSource(
                queue=eprops["Queue"]["Fn::GetAtt"][0],
                batch_size=int(ep.get("BatchSize", 10)),
                window_seconds=float(ep.get("MaximumBatchingWindowInSeconds", 0)),
                max_concurrency=int(ep.get("ScalingConfig", {}).get("MaximumConcurrency", 1000)),
                report_failures="ReportBatchItemFailures" in ep.get("FunctionResponseTypes", []),
            )
        )
    elif event["Type"] == "Schedule":
        spec.schedules.append(rate_seconds(r.resolve(eprops["Schedule"])))
    elif event["Type"] == "HttpApi":
        spec.routes.append(
            Route(
                eprops["Method"].upper(),
                eprops["Path"],
                _route_pattern(eprops["Path"]),
                authorized=eprops.get("Auth", {}).get("Authorizer") != "NONE",
            )
        )


def build_model(
    template_path: Path,
    *,
    stack: str,
    region: str,
    endpoint: str,
    overrides: dict[str, str] | None = None,
) -> StackModel:
    template = load_template(template_path)
    r = Resolver(template, stack, region, overrides or {}, endpoint)
    root = template_path.parent
    buckets, queues, tables, functions = {}, {}, {}, {}
    api_cors: dict[str, Any] = {}
    websocket_function: str | None = None
    for logical, res in template["Resources"].items():
        kind, props = res["Type"], r.resolve(res.get("Properties", {}))
        if kind == "AWS::S3::Bucket":
            buckets[logical] = props
        elif kind == "AWS::SQS::Queue":
            queues[logical] = _queue_spec(logical, res, props, r)
        elif kind == "AWS::DynamoDB::Table":
            tables[logical] = props
        elif kind == "AWS::ApiGatewayV2::Integration":
            uri = json.dumps(res.get("Properties", {}).get("IntegrationUri", ""))
            found = re.search(r"\$\{([A-Za-z0-9]+)\.Arn\}", uri)
            if found:
                websocket_function = found.group(1)
        elif kind == "AWS::Serverless::HttpApi":
            api_cors = props.get("CorsConfiguration", {})
        elif kind == "AWS::Serverless::Function":
            functions[logical] = _function_spec(logical, res, props, r, root)
    params = {k: str(v) for k, v in r.params.items()}
    return StackModel(stack, region, root, params, buckets, queues, tables, functions, api_cors, websocket_function)
