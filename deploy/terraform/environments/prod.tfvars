environment = "prod"
region      = "eu-west-1"
vpc_cidr    = "10.20.0.0/16"

node_instance_types = ["m6i.large"]
node_min_size       = 3
node_max_size       = 10
node_desired_size   = 3

db_instance_class        = "db.t4g.medium"
db_multi_az              = true
db_backup_retention_days = 14
db_deletion_protection   = true

redis_node_type = "cache.t4g.micro"
redis_replicas  = 1

create_ecr_repository       = true
create_github_oidc_provider = true

github_repository  = "roost-project/roost"
github_environment = "production"

# Alarms and budget alerts (alarms.tf, budgets.tf).
alarm_emails       = ["ops@roost.example.com"]
monthly_budget_usd = 1500

# CloudFront + WAF (edge.tf): set after the first apply, once the ingress load balancer exists.
edge_origin_domain   = ""
edge_aliases         = []
edge_certificate_arn = ""
