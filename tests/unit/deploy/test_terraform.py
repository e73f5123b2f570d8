"""deploy/terraform around the platform: node autoscaling, control-plane logs, the edge
(CloudFront + WAF), alarms, the backups bucket and the budget hold the properties operations
rely on (docs/operations.md, "First deployment on AWS").

Pure reads of the .tf files (blocks found by brace matching); `terraform fmt` and checkov run on
the same files in tests/integration/deploy.
"""

from __future__ import annotations

import re

from tests.support.deploy_checks import DEPLOY, KUBERNETES, load_yaml

TERRAFORM = DEPLOY / "terraform"
# The values CloudWatch Logs accepts for a log group's retention.
CLOUDWATCH_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731}
CONTROL_PLANE_LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}


def tf(name: str) -> str:
    return (TERRAFORM / name).read_text()


def blocks(text: str, header: str) -> list[str]:
    """Bodies of every block whose opening line matches `header` (a regex), braces balanced."""
    bodies = []
    for match in re.finditer(header + r"\s*\{", text):
        depth, start = 1, match.end()
        position = start
        while depth:
            character = text[position]
            depth += {"{": 1, "}": -1}.get(character, 0)
            position += 1
        bodies.append(text[start : position - 1])
    return bodies


def block(text: str, header: str) -> str:
    found = blocks(text, header)
    assert len(found) == 1, f"{header}: {len(found)} blocks"
    return found[0]


def attribute(body: str, name: str) -> str:
    """The expression assigned to `name` in `body`; a list or map may span lines."""
    found = re.search(rf"^\s*{re.escape(name)}\s*=\s*", body, re.M)
    assert found is not None, name
    start = position = found.end()
    depth = 0
    while position < len(body) and not (depth == 0 and body[position] == "\n"):
        depth += {"[": 1, "{": 1, "(": 1, "]": -1, "}": -1, ")": -1}.get(body[position], 0)
        position += 1
    return body[start:position].strip()


def variable_default(name: str) -> str:
    return attribute(block(tf("variables.tf"), rf'variable "{name}"'), "default")


def strings(expression: str) -> set[str]:
    return set(re.findall(r'"([^"]*)"', expression))


# --- EKS control plane and autoscaling


def test_eks_sends_every_control_plane_log_type_to_an_encrypted_bounded_log_group() -> None:
    eks = tf("eks.tf")
    types = attribute(block(eks, r"locals"), "control_plane_log_types")
    assert strings(types) == CONTROL_PLANE_LOG_TYPES
    module = block(eks, r'module "eks"')
    assert attribute(module, "cluster_enabled_log_types") == "local.control_plane_log_types"
    assert attribute(module, "cloudwatch_log_group_kms_key_id") == "aws_kms_key.observability.arn"
    retention = attribute(module, "cloudwatch_log_group_retention_in_days")
    assert retention == "var.control_plane_log_retention_days"
    assert int(variable_default("control_plane_log_retention_days")) in CLOUDWATCH_RETENTION_DAYS
    # The key lets CloudWatch Logs use it, for this account's log groups only.
    key_policy = block(tf("kms.tf"), r'data "aws_iam_policy_document" "observability_key"')
    assert "logs.${var.region}.amazonaws.com" in key_policy
    assert "kms:EncryptionContext:aws:logs:arn" in key_policy
    key = block(tf("kms.tf"), r'resource "aws_kms_key" "observability"')
    assert attribute(key, "enable_key_rotation") == "true"


def test_metrics_server_runs_so_the_roles_hpas_get_resource_metrics() -> None:
    addons = block(block(tf("eks.tf"), r'module "eks"'), r"cluster_addons\s*=")
    assert re.search(r"^\s*metrics-server\s*=", addons, re.M)
    # What needs it: the roles' HPAs scale on CPU/memory, served by the resource metrics API.
    roles = "\n".join(path.read_text() for path in (KUBERNETES / "base" / "roles").glob("*.yaml"))
    assert "kind: HorizontalPodAutoscaler" in roles
    assert "type: Resource" in roles


def test_every_irsa_role_trusts_its_service_account_through_one_trust_policy() -> None:
    everything = "\n".join(path.read_text() for path in sorted(TERRAFORM.glob("*.tf")))
    # Written once: the cluster's OIDC provider is trusted in exactly one policy document.
    assert everything.count("identifiers = [module.eks.oidc_provider_arn]") == 1
    trust = block(tf("iam.tf"), r'data "aws_iam_policy_document" "irsa_assume"')
    assert attribute(trust, "for_each") == "local.irsa_service_accounts"
    assert 'variable = "${module.eks.oidc_provider}:sub"' in trust
    assert "values   = [each.value]" in trust
    assert '"sts.amazonaws.com"' in trust
    accounts = block(tf("iam.tf"), r"irsa_service_accounts\s*=")
    keys = set(re.findall(r"^\s*(\w+)\s*=", accounts, re.MULTILINE))
    assert keys == {"app", "cluster_autoscaler"}
    # Each key is the role that uses it, and every web-identity role uses it.
    roles_using = set(re.findall(r'irsa_assume\["(\w+)"\]\.json', everything))
    assert roles_using == keys
    for key in keys:
        role = block(everything, rf'resource "aws_iam_role" "{key}"')
        assert attribute(role, "assume_role_policy") == (
            f'data.aws_iam_policy_document.irsa_assume["{key}"].json'
        )
    app_account = "system:serviceaccount:${var.k8s_namespace}:${var.k8s_service_account}"
    assert f'app                = "{app_account}"' in accounts


def test_cluster_autoscaler_role_is_its_service_account_only_and_resizes_only_tagged_groups() -> (
    None
):
    autoscaling = tf("autoscaling.tf")
    accounts = block(tf("iam.tf"), r"irsa_service_accounts\s*=")
    assert (
        'cluster_autoscaler = "system:serviceaccount:${local.cluster_autoscaler_namespace}:'
        '${local.cluster_autoscaler_service_account}"'
    ) in accounts
    role = block(autoscaling, r'resource "aws_iam_role" "cluster_autoscaler"')
    assert 'irsa_assume["cluster_autoscaler"].json' in attribute(role, "assume_role_policy")
    # The chart's service account is the one the trust policy names, annotated with the role.
    release = block(autoscaling, r'resource "helm_release" "cluster_autoscaler"')
    assert attribute(release, "namespace") == "local.cluster_autoscaler_namespace"
    assert "name        = local.cluster_autoscaler_service_account" in release
    assert '"eks.amazonaws.com/role-arn" = aws_iam_role.cluster_autoscaler.arn' in release
    assert "clusterName = module.eks.cluster_name" in release

    policy = block(autoscaling, r'data "aws_iam_policy_document" "cluster_autoscaler"')
    statements = blocks(policy, r"statement")
    writes = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}
    for statement in statements:
        actions = strings(attribute(statement, "actions"))
        assert not [action for action in actions if "*" in action], "no wildcard actions"
        if actions & writes:
            assert actions == writes
            assert '"*"' not in attribute(statement, "resources")
            conditions = blocks(statement, r"condition")
            assert any(
                "aws:ResourceTag/k8s.io/cluster-autoscaler/${module.eks.cluster_name}" in c
                and '"owned"' in c
                for c in conditions
            ), "only this cluster's node groups"
        elif '"*"' in attribute(statement, "resources"):
            read_only = ("Describe", "Get")
            assert all(action.split(":")[1].startswith(read_only) for action in actions)
    assert any(strings(attribute(s, "actions")) == writes for s in statements)
    versions = tf("versions.tf")
    assert 'source  = "hashicorp/helm"' in versions


# --- the edge


def test_cloudfront_sits_behind_a_waf_with_a_rate_limit_and_the_aws_common_rules() -> None:
    edge = tf("edge.tf")
    acl = block(edge, r'resource "aws_wafv2_web_acl" "edge"')
    assert attribute(acl, "scope") == '"CLOUDFRONT"'
    assert attribute(acl, "provider") == "aws.us_east_1", "CloudFront web ACLs live in us-east-1"
    rate = block(acl, r"rate_based_statement")
    assert attribute(rate, "limit") == "var.edge_rate_limit_per_5_minutes"
    assert attribute(rate, "aggregate_key_type") == '"IP"'
    assert int(variable_default("edge_rate_limit_per_5_minutes")) >= 100
    rule_groups = {
        attribute(statement, "name").strip('"')
        for statement in blocks(acl, r"managed_rule_group_statement")
    }
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= rule_groups

    distribution = block(edge, r'resource "aws_cloudfront_distribution" "edge"')
    assert attribute(distribution, "web_acl_id") == "aws_wafv2_web_acl.edge[0].arn"
    origin = block(distribution, r"origin")
    assert attribute(origin, "domain_name") == "var.edge_origin_domain"
    assert attribute(origin, "origin_protocol_policy") == '"https-only"'
    media = block(distribution, r"ordered_cache_behavior")
    assert attribute(media, "path_pattern") == '"/media/*"'
    viewer = block(distribution, r"viewer_certificate")
    assert attribute(viewer, "minimum_protocol_version") == '"TLSv1.2_2021"'
    for behaviour in (block(distribution, r"default_cache_behavior"), media):
        assert attribute(behaviour, "viewer_protocol_policy") == '"redirect-to-https"'


# --- alarms


def test_dead_letter_alarms_watch_the_dead_letter_queues_sqs_tf_declares() -> None:
    alarms = tf("alarms.tf")
    sqs = tf("sqs.tf")
    assert '"${var.broker_namespace}_${each.key}_dlq"' in block(
        sqs, r'resource "aws_sqs_queue" "dead_letters"'
    )
    metrics = set()
    for name in ("dead_letters_visible", "dead_letters_age"):
        alarm = block(alarms, rf'resource "aws_cloudwatch_metric_alarm" "{name}"')
        assert attribute(alarm, "for_each") == "aws_sqs_queue.dead_letters"
        assert attribute(alarm, "namespace") == '"AWS/SQS"'
        assert attribute(alarm, "dimensions") == "{ QueueName = each.value.name }"
        assert attribute(alarm, "alarm_actions") == "local.alarm_actions"
        metrics.add(attribute(alarm, "metric_name").strip('"'))
    assert metrics == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    visible = block(alarms, r'resource "aws_cloudwatch_metric_alarm" "dead_letters_visible"')
    assert attribute(visible, "threshold") == "0", "one dead letter is already worth a look"


def test_data_store_alarms_cover_postgres_and_redis_and_page_through_the_topic() -> None:
    alarms = tf("alarms.tf")
    declared = " ".join(blocks(alarms, r"locals"))
    metrics = set(re.findall(r'metric\s*=\s*"([^"]+)"', declared))
    assert {"CPUUtilization", "FreeableMemory", "FreeStorageSpace"} <= metrics
    assert {"EngineCPUUtilization", "DatabaseMemoryUsagePercentage"} <= metrics
    postgres = block(alarms, r'resource "aws_cloudwatch_metric_alarm" "postgres"')
    assert "DBInstanceIdentifier = aws_db_instance.postgres.identifier" in postgres
    redis = block(alarms, r'resource "aws_cloudwatch_metric_alarm" "redis"')
    assert "CacheClusterId = each.value.node" in redis
    # ElastiCache names member clusters <replication group id>-001, -002, ...
    assert '"%s-%03d", local.name' in declared
    assert "replication_group_id = local.name" in tf("elasticache.tf")
    topic = block(alarms, r'resource "aws_sns_topic" "alarms"')
    assert attribute(topic, "kms_master_key_id") == "aws_kms_key.observability.arn"
    assert "local.alarm_actions" in postgres
    assert "local.alarm_actions" in redis


def test_a_monthly_cost_budget_alerts_on_the_topic_with_its_amount_per_environment() -> None:
    budget = block(tf("budgets.tf"), r'resource "aws_budgets_budget" "monthly"')
    assert attribute(budget, "budget_type") == '"COST"'
    assert attribute(budget, "time_unit") == '"MONTHLY"'
    assert attribute(budget, "limit_amount") == "tostring(var.monthly_budget_usd)"
    notifications = blocks(budget, r"notification")
    assert {attribute(n, "notification_type") for n in notifications} == {
        '"ACTUAL"',
        '"FORECASTED"',
    }
    for notification in notifications:
        assert attribute(notification, "subscriber_sns_topic_arns") == (
            "[aws_sns_topic.alarms.arn]"
        )
    for environment in ("staging", "prod"):
        tfvars = (TERRAFORM / "environments" / f"{environment}.tfvars").read_text()
        amount = re.search(r"^monthly_budget_usd\s*=\s*(\d+)", tfvars, re.M)
        assert amount is not None, environment
        assert int(amount.group(1)) > 0, environment


# --- backups


def test_backups_bucket_is_versioned_kms_encrypted_private_and_ages_out() -> None:
    backups = tf("backups.tf")
    assert attribute(block(backups, r'resource "aws_s3_bucket" "backups"'), "bucket") == (
        '"${local.name}-backups"'
    )
    versioning = block(backups, r'resource "aws_s3_bucket_versioning" "backups"')
    assert attribute(versioning, "status") == '"Enabled"'
    encryption = block(
        backups, r'resource "aws_s3_bucket_server_side_encryption_configuration" "backups"'
    )
    assert attribute(encryption, "sse_algorithm") == '"aws:kms"'
    assert attribute(encryption, "kms_master_key_id") == "aws_kms_key.backups.arn"
    public = block(backups, r'resource "aws_s3_bucket_public_access_block" "backups"')
    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert attribute(public, setting) == "true", setting
    lifecycle = block(backups, r'resource "aws_s3_bucket_lifecycle_configuration" "backups"')
    transition = block(lifecycle, r"\btransition")
    assert attribute(transition, "days") == "90"
    assert attribute(transition, "storage_class") == '"GLACIER"'
    assert attribute(block(lifecycle, r"\bexpiration"), "days") == "365"
    assert "aws:SecureTransport" in backups


def test_backup_cronjob_bucket_and_role_are_the_ones_terraform_makes() -> None:
    # The CronJob runs as the roost service account: the app role (IRSA) carries its rights.
    cronjob = (KUBERNETES / "components" / "backup" / "cronjob.yaml").read_text()
    assert "serviceAccountName: roost" in cronjob
    assert variable_default("k8s_service_account") == '"roost"'
    for environment in ("staging", "prod"):
        overlay = load_yaml(KUBERNETES / "overlays" / environment / "kustomization.yaml")
        literals = [
            literal
            for generator in overlay.get("configMapGenerator", [])
            for literal in generator.get("literals", [])
        ]
        url = next(x.split("=", 1)[1] for x in literals if x.startswith("ROOST_BACKUP_URL="))
        # local.name is roost-<environment>: the bucket `"${local.name}-backups"`.
        assert url.startswith(f"s3://roost-{environment}-backups/"), url

    app = block(tf("iam.tf"), r'data "aws_iam_policy_document" "app"')
    by_sid = {attribute(s, "sid").strip('"'): s for s in blocks(app, r"statement")}
    assert attribute(by_sid["ListBackups"], "resources") == "[aws_s3_bucket.backups.arn]"
    assert strings(attribute(by_sid["Backups"], "actions")) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
    }
    assert attribute(by_sid["BackupsKey"], "resources") == "[aws_kms_key.backups.arn]"
    # The worker's queue-age read (src/roost/infra/queue.py), and nothing else on "*".
    assert strings(attribute(by_sid["QueueAgeMetric"], "actions")) == {
        "cloudwatch:GetMetricStatistics"
    }
    on_everything = [sid for sid, s in by_sid.items() if '"*"' in attribute(s, "resources")]
    assert on_everything == ["QueueAgeMetric"]


def test_outputs_name_what_operators_wire_up_next() -> None:
    outputs = tf("outputs.tf")
    for name in ("backup_bucket", "cluster_autoscaler_role_arn", "alarm_topic_arn"):
        assert f'output "{name}"' in outputs, name
    assert "aws_cloudfront_distribution.edge[*].domain_name" in outputs
