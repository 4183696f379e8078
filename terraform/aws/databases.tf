# Databases with on = "rds" in pilot.toml (see docs/databases.md): PostgreSQL on Amazon RDS
# in the server's VPC. Encrypted, never public, reachable only from the Pilot Server's
# security group, automated daily backups, deletion protection. Nothing here without one.
#
# The template works from hashicorp/aws 3.39 through 5.x, so no `db_name` (4.0+; `name`
# before, gone in 5.0): apps use the "postgres" database RDS always makes; and no
# `storage_type = "gp3"`, which some 4.x releases refuse: RDS's default (gp2) is used.

variable "databases" {
  description = "RDS databases by pilot.toml name (Pilot fills it from [[databases]] with on = \"rds\")."
  type = map(object({
    engine_version = string # the major version: RDS applies minor upgrades itself
    instance_class = string
    storage_gb     = number
    max_storage_gb = number
    backup_days    = number
  }))
  default = {}
}

variable "database_passwords" {
  description = "Master password of each RDS database (Pilot writes them in a 0600 file beside the inputs)."
  type        = map(string)
  sensitive   = true
  default     = {}
}

locals {
  # RDS wants a subnet group spanning two availability zones, even for one instance.
  database_zones = length(var.databases) > 0 ? 2 : 0
}

# Private subnets: no route to the internet gateway (the VPC's main route table is local only).
resource "aws_subnet" "database" {
  count             = local.database_zones
  vpc_id            = aws_vpc.pilot.id
  cidr_block        = cidrsubnet(var.vpc_cidr, 8, 20 + count.index)
  availability_zone = data.aws_availability_zones.available.names[count.index]
  tags              = { Name = "${local.name}-database-${count.index}" }
}

resource "aws_db_subnet_group" "pilot" {
  count      = local.database_zones > 0 ? 1 : 0
  name       = "${local.name}-databases"
  subnet_ids = aws_subnet.database[*].id
  tags       = { Name = "${local.name}-databases" }
}

resource "aws_security_group" "database" {
  count       = local.database_zones > 0 ? 1 : 0
  name        = "${local.name}-databases"
  description = "Pilot databases: PostgreSQL from the Pilot Server only"
  vpc_id      = aws_vpc.pilot.id

  ingress {
    description     = "PostgreSQL from the Pilot Server"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [aws_security_group.server.id]
  }

  tags = { Name = "${local.name}-databases" }
}

resource "aws_db_instance" "database" {
  for_each = var.databases

  identifier                 = "${local.name}-${each.key}"
  engine                     = "postgres"
  engine_version             = each.value.engine_version
  auto_minor_version_upgrade = true
  instance_class             = each.value.instance_class
  allocated_storage          = each.value.storage_gb
  max_allocated_storage      = each.value.max_storage_gb
  storage_encrypted          = true
  publicly_accessible        = false
  db_subnet_group_name       = aws_db_subnet_group.pilot[0].name
  vpc_security_group_ids     = [aws_security_group.database[0].id]
  username                   = "pilot"
  password                   = var.database_passwords[each.key]
  backup_retention_period    = each.value.backup_days
  copy_tags_to_snapshot      = true
  # A new instance class or storage size now, not in the next maintenance window (so
  # `server plan` does not show the same change until then).
  apply_immediately = true
  # `server destroy --drop-database NAME` lifts it (after a final snapshot) once you named
  # the database; anything else that tries to delete it is refused by RDS.
  deletion_protection = true
  # Pilot takes the final snapshot itself, named with the time (a fixed name here would
  # collide with the one a previous server of the same project left).
  skip_final_snapshot = true

  tags = { Name = "${local.name}-${each.key}", "pilot:database" = each.key }

  lifecycle {
    # The password is set once: a teammate without .pilot/databases/NAME.password (whose
    # server up made a new one) must not reset it under the apps that use it.
    ignore_changes = [password]
  }
}
