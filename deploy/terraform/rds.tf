# PostgreSQL holds what must not be lost: the bird catalog, image records and job states,
# optimizer models and results. Multi-AZ, encrypted, backed up, TLS only.

resource "aws_db_parameter_group" "postgres" {
  name_prefix = "${local.name}-postgres16-"
  family      = "postgres16"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Slow statements land in the PostgreSQL log (CloudWatch), next to the p95 target.
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "postgres" {
  # checkov:skip=CKV_AWS_118: CloudWatch metrics, Performance Insights and the postgresql log export cover it without a monitoring role
  # checkov:skip=CKV_AWS_354: Performance Insights data is encrypted with the AWS-managed key
  # checkov:skip=CKV_AWS_161: the app pools connections with the RDS-managed password; 15-minute IAM tokens would break the pool
  identifier     = local.name
  engine         = "postgres"
  engine_version = "16"
  instance_class = var.db_instance_class

  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_allocated_storage * 5
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name  = "roost"
  username = "roost"
  # RDS keeps the password in Secrets Manager and rotates it; it never enters the state.
  manage_master_user_password = true

  db_subnet_group_name   = module.vpc.database_subnet_group_name
  vpc_security_group_ids = [aws_security_group.data_store["postgres"].id]
  parameter_group_name   = aws_db_parameter_group.postgres.name
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "02:00-03:00"
  maintenance_window        = "sun:03:30-sun:04:30"
  copy_tags_to_snapshot     = true
  deletion_protection       = var.db_deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.name}-final"

  auto_minor_version_upgrade      = true
  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
}
