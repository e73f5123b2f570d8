# The job queues for ROOST_BROKER_URL=sqs://. Names are the ones the dramatiq-sqs broker looks
# up: "<ROOST_BROKER_NAMESPACE>_<queue>" and "<...>_dlq" (src/roost/infra/queue.py), so the
# app finds them with sqs:GetQueueUrl and never needs sqs:CreateQueue. Retries and
# dead-lettering are the job library's; the redrive policy is the last line for a message that
# crashes its worker every time it is received.

locals {
  # ROOST_THUMBNAILS_QUEUE and ROOST_OPTIMIZER_QUEUE, under ROOST_BROKER_NAMESPACE.
  job_queues = toset(["thumbnails", "optimizer"])
}

resource "aws_sqs_queue" "dead_letters" {
  for_each                  = local.job_queues
  name                      = "${var.broker_namespace}_${each.key}_dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum: time to look before it is gone
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "jobs" {
  for_each                   = local.job_queues
  name                       = "${var.broker_namespace}_${each.key}"
  visibility_timeout_seconds = var.queue_visibility_timeout_seconds
  message_retention_seconds  = 345600 # 4 days
  receive_wait_time_seconds  = 20     # long polling
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letters[each.key].arn
    maxReceiveCount     = var.queue_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letters" {
  for_each  = local.job_queues
  queue_url = aws_sqs_queue.dead_letters[each.key].id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.jobs[each.key].arn]
  })
}
