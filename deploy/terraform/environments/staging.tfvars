environment        = "staging"
region             = "eu-west-1"
vpc_cidr           = "10.10.0.0/16"
single_nat_gateway = true

node_instance_types = ["t3.large"]
node_min_size       = 2
node_max_size       = 5
node_desired_size   = 2

# Control-plane logs (audit is the bulk): a month is enough to debug staging.
control_plane_log_retention_days = 30

db_instance_class        = "db.t4g.small"
db_multi_az              = false
db_backup_retention_days = 3
db_deletion_protection   = false

redis_node_type = "cache.t4g.micro"
redis_replicas  = 0

# Same account as prod: reuse its ECR repository and GitHub OIDC provider.
create_ecr_repository       = false
create_github_oidc_provider = false

github_repository  = "roost-project/roost"
github_environment = "staging"

# Alarms and budget alerts (alarms.tf, budgets.tf).
alarm_emails       = ["ops@roost.example.com"]
monthly_budget_usd = 400

# CloudFront + WAF (edge.tf): set after the first apply, once the ingress load balancer exists.
edge_origin_domain   = ""
edge_aliases         = []
edge_certificate_arn = ""
