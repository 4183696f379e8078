variable "region" {
  description = "AWS region."
  type        = string
}

variable "aws_profile" {
  description = "AWS profile name; null uses the default credential chain."
  type        = string
  default     = null
}

variable "instance_type" {
  description = "EC2 instance type of the Pilot Server."
  type        = string
  default     = "t3.small"
}

variable "ubuntu_release" {
  description = "Ubuntu LTS release of the server image (Canonical's official AMIs)."
  type        = string
  default     = "24.04"
}

variable "vpc_cidr" {
  description = "Address range of the server's VPC."
  type        = string
  default     = "10.42.0.0/16"
}

variable "state_bucket" {
  description = "The project's S3 state bucket: the server's role may write its backups/ (null: no role)."
  type        = string
  default     = null
}

variable "ci_worker_policy" {
  description = "The CI worker's grants on the server's role (server.ci_worker), as policy JSON with ACCOUNT_ID where the account goes (null: no worker on the server)."
  type        = string
  default     = null
}

variable "lambda_preview_apps" {
  description = "The apps that run previews on Lambda: the server's role may find their previews and remove expired ones, its agent's job ([]: no such grant)."
  type        = list(string)
  default     = []
}
