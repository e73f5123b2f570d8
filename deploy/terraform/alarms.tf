# CloudWatch alarms on what Prometheus does not see from inside the cluster: the managed data
# stores and the SQS dead-letter queues. One SNS topic carries them (and the budget alerts,
# budgets.tf); subscribe e-mail here, or the on-call tool's endpoint by hand.

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.observability.arn
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "AccountManages"
    actions   = ["sns:*"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  # Alarms and budgets of this account only.
  statement {
    sid       = "AlarmPublishers"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "alarm_email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

# --- SQS dead letters: any message there is a job that failed every delivery.

resource "aws_cloudwatch_metric_alarm" "dead_letters_visible" {
  for_each = aws_sqs_queue.dead_letters

  alarm_name          = "${local.name}-${each.value.name}-messages"
  alarm_description   = "Jobs in the ${each.key} dead-letter queue: look with the console's dead-letter list (docs/operations.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dead_letters_age" {
  for_each = aws_sqs_queue.dead_letters

  alarm_name          = "${local.name}-${each.value.name}-oldest-age"
  alarm_description   = "A message has sat in the ${each.key} dead-letter queue for over ${var.dead_letter_max_age_seconds / 3600} h; SQS drops it after 14 days."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dead_letter_max_age_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- RDS PostgreSQL

locals {
  postgres_alarms = {
    cpu = {
      metric      = "CPUUtilization"
      operator    = "GreaterThanThreshold"
      threshold   = 80
      description = "PostgreSQL CPU above 80% for 15 minutes."
    }
    freeable-memory = {
      metric      = "FreeableMemory"
      operator    = "LessThanThreshold"
      threshold   = 256 * 1024 * 1024
      description = "PostgreSQL freeable memory below 256 MiB for 15 minutes."
    }
    free-storage = {
      metric      = "FreeStorageSpace"
      operator    = "LessThanThreshold"
      threshold   = 10 * 1024 * 1024 * 1024
      description = "PostgreSQL free storage below 10 GiB (autoscaling stops at 5x the allocation)."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "postgres" {
  for_each = local.postgres_alarms

  alarm_name          = "${local.name}-postgres-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = { DBInstanceIdentifier = aws_db_instance.postgres.identifier }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = each.value.operator
  threshold           = each.value.threshold
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# --- ElastiCache Redis, per node. Member ids are <replication group>-001, -002, ...; computed
# here because for_each needs them at plan time.

locals {
  redis_nodes = [for index in range(1 + var.redis_replicas) : format("%s-%03d", local.name, index + 1)]

  redis_alarms = {
    # Redis runs commands on one thread: its own CPU saturates long before the host's.
    engine-cpu = {
      metric      = "EngineCPUUtilization"
      threshold   = 80
      description = "Redis engine CPU above 80% for 15 minutes."
    }
    # allkeys-lru evicts at maxmemory, so this is sustained eviction of kv data and rate limits.
    memory = {
      metric      = "DatabaseMemoryUsagePercentage"
      threshold   = 90
      description = "Redis memory above 90% of maxmemory for 15 minutes: evictions are near; a larger node type (docs/adr/0004)."
    }
  }

  redis_node_alarms = {
    for pair in setproduct(local.redis_nodes, keys(local.redis_alarms)) :
    "${pair[0]}-${pair[1]}" => { node = pair[0], alarm = local.redis_alarms[pair[1]] }
  }
}

resource "aws_cloudwatch_metric_alarm" "redis" {
  for_each = local.redis_node_alarms

  alarm_name          = "${each.key}-redis"
  alarm_description   = each.value.alarm.description
  namespace           = "AWS/ElastiCache"
  metric_name         = each.value.alarm.metric
  dimensions          = { CacheClusterId = each.value.node }
  statistic           = "Average"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.alarm.threshold
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  depends_on = [aws_elasticache_replication_group.redis]
}
