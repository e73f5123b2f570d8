output "cluster_name" {
  description = "aws eks update-kubeconfig --name <this>"
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  value = module.eks.cluster_endpoint
}

output "ecr_repository_url" {
  description = "Image name for the overlays' `images:` entry and the CD pipeline."
  value       = local.ecr_repository_url
}

output "app_role_arn" {
  description = "eks.amazonaws.com/role-arn of the roost service account (overlays/*/serviceaccount-irsa.yaml)."
  value       = aws_iam_role.app.arn
}

output "ci_role_arn" {
  description = "role-to-assume of the CD workflow (repository variable AWS_CI_ROLE_ARN)."
  value       = aws_iam_role.ci.arn
}

output "postgres_endpoint" {
  description = "host:port for ROOST_DATABASE_URL=postgresql://roost:<password>@<this>/roost?ssl=require"
  value       = aws_db_instance.postgres.endpoint
}

output "postgres_master_secret_arn" {
  description = "Secrets Manager secret holding the PostgreSQL password (managed and rotated by RDS)."
  value       = aws_db_instance.postgres.master_user_secret[0].secret_arn
}

output "redis_primary_endpoint" {
  description = "Host for ROOST_REDIS_URL=rediss://:<auth>@<this>:6379/0"
  value       = aws_elasticache_replication_group.redis.primary_endpoint_address
}

output "redis_auth_secret_arn" {
  value = aws_secretsmanager_secret.redis_auth.arn
}

output "source_bucket" {
  description = "ROOST_STORAGE_URL=s3://<this>"
  value       = aws_s3_bucket.source.bucket
}

output "thumbnails_bucket" {
  value = aws_s3_bucket.thumbnails.bucket
}

output "jobs_queue_urls" {
  value = { for name, queue in aws_sqs_queue.jobs : name => queue.url }
}

output "dead_letter_queue_urls" {
  value = { for name, queue in aws_sqs_queue.dead_letters : name => queue.url }
}

output "backup_bucket" {
  description = "ROOST_BACKUP_URL=s3://<this>/roost (overlays' roost-config)."
  value       = aws_s3_bucket.backups.bucket
}

output "cluster_autoscaler_role_arn" {
  description = "IRSA role of kube-system/cluster-autoscaler (installed by autoscaling.tf)."
  value       = aws_iam_role.cluster_autoscaler.arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the CloudWatch alarms and budget alerts: subscribe the on-call tool here."
  value       = aws_sns_topic.alarms.arn
}

output "edge_domain_name" {
  description = "CloudFront domain: point the public hosts' DNS (CNAME or alias) at it; null until edge_origin_domain is set."
  value       = one(aws_cloudfront_distribution.edge[*].domain_name)
}

output "account_id" {
  value = data.aws_caller_identity.current.account_id
}
