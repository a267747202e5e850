"""Identity and a private PACS in the template (issue 10): every public endpoint has an
authorizer, the load balancer is internal, nothing opens port 80 to the internet, users are
kept, and no shared signing secret is left."""

from __future__ import annotations

from typing import Any

from tests.unit.test_template_policies import TEMPLATE, of_type

INTERNET = {"0.0.0.0/0", "::/0"}


def _rules(group: Any, key: str) -> list[dict[str, Any]]:
    return list(group.properties.get(key) or [])


def test_the_load_balancer_is_internal_in_private_subnets() -> None:
    # Given every load balancer of the template
    balancers = of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")

    # Then none faces the internet, and each sits in the private subnets
    assert balancers
    for balancer in balancers:
        assert balancer.properties["Scheme"] == "internal", balancer.logical_id
        subnets = {s["Ref"] for s in balancer.properties["Subnets"]}
        assert subnets <= {"PrivateSubnet1", "PrivateSubnet2"}, balancer.logical_id


def test_no_security_group_opens_port_80_to_or_from_the_internet() -> None:
    # Given every inline and standalone security-group rule
    rules: list[tuple[str, dict[str, Any]]] = []
    for group in of_type("AWS::EC2::SecurityGroup"):
        for key in ("SecurityGroupIngress", "SecurityGroupEgress"):
            rules += [(group.logical_id, rule) for rule in _rules(group, key)]
    for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        rules += [(rule.logical_id, rule.properties) for rule in of_type(kind)]

    # Then no rule covering port 80 names an internet-wide range
    for name, rule in rules:
        low, high = int(rule.get("FromPort", 0)), int(rule.get("ToPort", 65535))
        if low <= 80 <= high:
            cidr = rule.get("CidrIp") or rule.get("CidrIpv6")
            # A parameter (!Ref VpcCidr) is a dict here; only a literal can be the internet.
            assert not (isinstance(cidr, str) and cidr in INTERNET), f"{name}: port 80 to {cidr}"


def test_every_rest_route_uses_the_cognito_authorizer() -> None:
    # Given the REST API's default authorizer and every Api event of every function
    api = TEMPLATE.resources["RestApi"].properties
    auth = api["Auth"]
    assert auth["DefaultAuthorizer"] == "CognitoAuthorizer"
    assert auth["Authorizers"]["CognitoAuthorizer"]["UserPoolArn"] == {
        "Fn::GetAtt": ["UserPool", "Arn"]
    }
    assert "ApiKeyRequired" not in auth, "an API key must never be what grants access"
    events = [
        (function.logical_id, name, event)
        for function in of_type("AWS::Serverless::Function")
        for name, event in (function.properties.get("Events") or {}).items()
        if event["Type"] == "Api"
    ]

    # Then no route opts out of it
    assert len(events) >= 10
    for function, name, event in events:
        authorizer = (event["Properties"].get("Auth") or {}).get("Authorizer")
        assert authorizer in (None, "CognitoAuthorizer"), f"{function}.{name} uses {authorizer}"


def test_every_http_and_websocket_route_is_authorized() -> None:
    # Given every route of the HTTP and WebSocket APIs
    routes = of_type("AWS::ApiGatewayV2::Route")
    apis = {a.logical_id: a.properties["ProtocolType"] for a in of_type("AWS::ApiGatewayV2::Api")}

    # Then HTTP routes take a JWT of the pool, and $connect takes the ticket authorizer
    for route in routes:
        props = route.properties
        protocol = apis[props["ApiId"]["Ref"]]
        if protocol == "HTTP":
            assert props["AuthorizationType"] == "JWT", route.logical_id
        elif props["RouteKey"] == "$connect":
            assert props["AuthorizationType"] == "CUSTOM", route.logical_id
        else:
            # $disconnect and messages ride on a connection $connect already authorized.
            assert props["RouteKey"] in ("$disconnect", "$default"), route.logical_id
    jwt = TEMPLATE.resources["ServicesApiAuthorizer"].properties["JwtConfiguration"]
    assert jwt["Audience"] == [{"Ref": "UserPoolClient"}]
    assert "${UserPool}" in jwt["Issuer"]["Fn::Sub"]


def test_cors_allows_the_console_origin_only() -> None:
    # Given the CORS settings of the REST and HTTP APIs and the functions' environment
    rest = TEMPLATE.resources["RestApi"].properties["Cors"]["AllowOrigin"]
    http = TEMPLATE.resources["ServicesApi"].properties["CorsConfiguration"]["AllowOrigins"]
    env = TEMPLATE.document["Globals"]["Function"]["Environment"]["Variables"]

    # Then each names the ConsoleOrigin parameter, never "*"
    assert rest == {"Fn::Sub": "'${ConsoleOrigin}'"}
    assert http == [{"Ref": "ConsoleOrigin"}]
    assert env["CORS_ALLOW_ORIGIN"] == {"Ref": "ConsoleOrigin"}


def test_users_and_owned_data_survive_a_stack_deletion() -> None:
    # Given the user pool, the tables that hold who owns what, the archive and the job results
    for logical_id in ("UserPool", "JobsTable", "ClientsTable", "PacsBucket", "OutputBucket"):
        resource = TEMPLATE.document["Resources"][logical_id]
        # Then deleting or replacing the stack keeps them
        assert resource.get("DeletionPolicy") == "Retain", logical_id
        assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
    pool = TEMPLATE.resources["UserPool"].properties
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12


def test_no_shared_signing_secret_is_left() -> None:
    # Given the template
    secrets = of_type("AWS::SecretsManager::Secret")
    variables = [
        name
        for function in of_type("AWS::Serverless::Function")
        for name in ((function.properties.get("Environment") or {}).get("Variables") or {})
    ]

    # Then WebSocket access rests on one-time tickets, not on a key that signs tokens
    assert not secrets
    assert "TOKEN_SECRET_ARN" not in variables
    assert "TicketsTable" in TEMPLATE.resources
