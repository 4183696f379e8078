locals {
  name = "pilot-${var.project}"
  tags = {
    "pilot:project" = var.project
    "managed-by"    = "pilot-tui"
  }
  # Only SSH, plus Docker's TLS port with mtls and Waypoint's ports with that engine.
  # Plain-TCP Docker (2375) is never opened.
  ports = concat(
    [{ port = 22, what = "SSH" }],
    var.docker_access == "mtls" ? [{ port = 2376, what = "Docker over mutual TLS" }] : [],
    var.engine == "waypoint" ? [
      { port = 9701, what = "Waypoint UI/API" },
      { port = 9702, what = "Waypoint runners" },
    ] : [],
  )
}

data "aws_availability_zones" "available" {
  state = "available"
}

data "aws_ami" "ubuntu" {
  most_recent = true
  owners      = ["099720109477"] # Canonical

  filter {
    name   = "name"
    values = ["ubuntu/images/hvm-ssd*/ubuntu-*-${var.ubuntu_release}-amd64-server-*"]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

resource "aws_vpc" "pilot" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = local.name }
}

resource "aws_internet_gateway" "pilot" {
  vpc_id = aws_vpc.pilot.id
  tags   = { Name = local.name }
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.pilot.id
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, 1)
  availability_zone       = data.aws_availability_zones.available.names[0]
  map_public_ip_on_launch = true
  tags                    = { Name = "${local.name}-public" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.pilot.id
  tags   = { Name = "${local.name}-public" }
}

resource "aws_route" "internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.pilot.id
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

resource "aws_security_group" "server" {
  name        = "${local.name}-server"
  description = "Pilot Server: SSH and Docker from allowed networks; the apps' web port"
  vpc_id      = aws_vpc.pilot.id

  dynamic "ingress" {
    for_each = local.ports
    content {
      description = ingress.value.what
      from_port   = ingress.value.port
      to_port     = ingress.value.port
      protocol    = "tcp"
      cidr_blocks = var.allowed_cidrs
    }
  }

  # The apps, through Pilot's reverse proxy: meant for the public.
  dynamic "ingress" {
    for_each = var.web_ports
    content {
      description = "Apps via the Pilot proxy"
      from_port   = ingress.value
      to_port     = ingress.value
      protocol    = "tcp"
      cidr_blocks = var.web_cidrs
    }
  }

  egress {
    description = "Outbound: package mirrors, registries, cloud APIs"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = { Name = "${local.name}-server" }
}

resource "aws_key_pair" "pilot" {
  key_name   = "${local.name}-server"
  public_key = var.ssh_public_key
}

# The server's role, for its agent (a container; see docs/databases.md): with a state
# bucket it writes the databases' backups under backups/ there (nothing else of the
# bucket, not the Terraform state), and it removes expired Lambda previews (below). No key
# is stored on the server.
locals {
  lambda_previews = length(var.lambda_preview_apps) > 0
  ci_worker       = var.ci_worker_policy != null
  server_role     = var.state_bucket != null || local.lambda_previews || local.ci_worker
}

resource "aws_iam_role" "server" {
  count = local.server_role ? 1 : 0
  name  = "${local.name}-server"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "server_backups" {
  count = var.state_bucket == null ? 0 : 1
  name  = "${local.name}-backups"
  role  = aws_iam_role.server[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "WriteAndPruneBackups"
        Effect = "Allow"
        Action = [
          "s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
          "s3:AbortMultipartUpload",
        ]
        Resource = "arn:aws:s3:::${var.state_bucket}/backups/*"
      },
      {
        Sid       = "ListBackups"
        Effect    = "Allow"
        Action    = ["s3:ListBucket", "s3:ListBucketVersions"]
        Resource  = "arn:aws:s3:::${var.state_bucket}"
        Condition = { StringLike = { "s3:prefix" = ["backups/*"] } }
      },
    ]
  })
}

# The agent on the server removes Lambda previews past their TTL (README, previews). It
# may find functions by their tags (tag:GetResources cannot be held to some resources; it
# shows ARNs and tags, never settings), and read and delete a function only when it is
# named as a preview of one of these apps and tagged as this project's preview of it: an
# app's own function is never the server's to remove. With a state bucket it also reads
# those previews' deploy leases there.

data "aws_caller_identity" "current" {
  count = local.lambda_previews || local.ci_worker ? 1 : 0
}

resource "aws_iam_role_policy" "server_previews" {
  count = local.lambda_previews ? 1 : 0
  name  = "${local.name}-previews"
  role  = aws_iam_role.server[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        Sid      = "FindPreviews"
        Effect   = "Allow"
        Action   = ["tag:GetResources"]
        Resource = "*"
      },
      {
        Sid    = "ReadAndRemoveExpiredPreviews"
        Effect = "Allow"
        Action = ["lambda:GetFunctionConfiguration", "lambda:ListTags", "lambda:DeleteFunction"]
        Resource = [
          for app in var.lambda_preview_apps :
          "arn:aws:lambda:${var.region}:${data.aws_caller_identity.current[0].account_id}:function:${local.name}-${app}--*"
        ]
        Condition = {
          StringEquals = {
            "aws:ResourceTag/pilot:project"    = var.project
            "aws:ResourceTag/pilot.preview-of" = var.lambda_preview_apps
          }
        }
      },
      {
        Sid    = "RemoveExpiredPreviewsLogs"
        Effect = "Allow"
        Action = ["logs:DeleteLogGroup"]
        Resource = [
          for app in var.lambda_preview_apps :
          "arn:aws:logs:${var.region}:${data.aws_caller_identity.current[0].account_id}:log-group:/aws/lambda/${local.name}-${app}--*"
        ]
      },
      ], [
      # A preview being deployed holds its lease there (deploy/lease_rules.py): kept. (A
      # lease not there answers 403 without s3:ListBucket: the agent takes it as none.)
      for bucket in compact([var.state_bucket]) : {
        Sid    = "SeePreviewDeploys"
        Effect = "Allow"
        Action = ["s3:GetObject"]
        Resource = [
          for app in var.lambda_preview_apps :
          "arn:aws:s3:::${bucket}/pilot/locks/${app}--*.json"
        ]
      }
    ])
  })
}

# The CI worker on the server (server.ci_worker; README, "CI deploys of the Pilot
# Server's apps"): the state bucket's deploy requests, releases and deploy leases, and
# pulls from the project's ECR repositories. Written by Pilot as data
# (deploy/worker_container.py's role_policy, evaluated by its tests); the account is put in here.
resource "aws_iam_role_policy" "server_ci_worker" {
  count  = local.ci_worker ? 1 : 0
  name   = "${local.name}-ci-worker"
  role   = aws_iam_role.server[0].id
  policy = replace(var.ci_worker_policy, "ACCOUNT_ID", data.aws_caller_identity.current[0].account_id)
}

resource "aws_iam_instance_profile" "server" {
  count = local.server_role ? 1 : 0
  name  = "${local.name}-server"
  role  = aws_iam_role.server[0].name
}

resource "aws_instance" "server" {
  ami                    = data.aws_ami.ubuntu.id
  instance_type          = var.instance_type
  subnet_id              = aws_subnet.public.id
  vpc_security_group_ids = [aws_security_group.server.id]
  key_name               = aws_key_pair.pilot.key_name
  iam_instance_profile   = local.server_role ? aws_iam_instance_profile.server[0].name : null
  user_data = templatefile("${path.module}/cloud-init.yaml.tpl", {
    docker_access = var.docker_access
    engine        = var.engine
  })

  metadata_options {
    http_endpoint = "enabled"
    http_tokens   = "required" # IMDSv2 only
    # One hop: the host itself (Pilot's agent runs on the host's network); the apps'
    # containers, a hop further, get no token (and the metadata guard `server up`
    # installs rejects them besides).
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = 30
    volume_type = "gp3"
    encrypted   = true
  }

  tags = { Name = "${local.name}-server" }
}
