# Redis: kv data, rate-limit counters, caches, the maintenance flag. `allkeys-lru` as in
# production everywhere else; ElastiCache fixes maxmemory by node type and offers no AOF on
# Redis 7, so durability comes from a Multi-AZ replica and daily snapshots instead
# (docs/adr/0004-redis-on-elasticache.md).

resource "aws_elasticache_parameter_group" "redis" {
  name   = "${local.name}-redis7"
  family = "redis7"

  parameter {
    name  = "maxmemory-policy"
    value = "allkeys-lru"
  }
}

resource "random_password" "redis_auth" {
  length  = 48
  special = false
}

resource "aws_elasticache_replication_group" "redis" {
  # checkov:skip=CKV_AWS_191: encrypted at rest and in transit with the AWS-managed key; a CMK is not needed for kv data and caches
  # checkov:skip=CKV2_AWS_50: Multi-AZ failover is on whenever var.redis_replicas >= 1 (prod); staging runs one node on purpose
  replication_group_id = local.name
  description          = "Roost kv data, rate limits and caches"

  engine               = "redis"
  engine_version       = "7.1"
  node_type            = var.redis_node_type
  port                 = 6379
  parameter_group_name = aws_elasticache_parameter_group.redis.name

  num_cache_clusters         = 1 + var.redis_replicas
  automatic_failover_enabled = var.redis_replicas > 0
  multi_az_enabled           = var.redis_replicas > 0

  subnet_group_name  = module.vpc.elasticache_subnet_group_name
  security_group_ids = [aws_security_group.data_store["redis"].id]

  # rediss:// with a password: ROOST_REDIS_URL=rediss://:<auth>@<primary endpoint>:6379/0
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  auth_token                 = random_password.redis_auth.result

  snapshot_retention_limit   = var.redis_snapshot_retention_days
  snapshot_window            = "01:00-02:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade = true
}

resource "aws_secretsmanager_secret" "redis_auth" {
  # checkov:skip=CKV_AWS_149: the AWS-managed key is enough for the Redis AUTH token; only the app role reads it
  # checkov:skip=CKV2_AWS_57: an ElastiCache AUTH token is rotated by a coordinated terraform apply, not a Lambda rotator
  name                    = "${local.name}/redis-auth"
  description             = "AUTH token of the roost Redis replication group"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "redis_auth" {
  secret_id     = aws_secretsmanager_secret.redis_auth.id
  secret_string = random_password.redis_auth.result
}
