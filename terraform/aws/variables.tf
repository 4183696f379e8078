variable "project" {
  description = "Project name; prefixes every resource."
  type        = string
}

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

variable "allowed_cidrs" {
  description = "Networks allowed to reach SSH (and Docker/Waypoint ports). Never empty."
  type        = list(string)

  validation {
    condition     = length(var.allowed_cidrs) > 0
    error_message = "The allowed_cidrs list must name at least one network."
  }
}

variable "ssh_public_key" {
  description = "OpenSSH public key Pilot generated (its private half stays in .pilot/keys)."
  type        = string
}

variable "docker_access" {
  description = "ssh (Docker over SSH, no extra port) or mtls (TLS client certificates on 2376)."
  type        = string
  default     = "ssh"

  validation {
    condition     = contains(["ssh", "mtls"], var.docker_access)
    error_message = "The docker_access value must be ssh or mtls; plain TCP is never offered."
  }
}

variable "engine" {
  description = "pilot, or waypoint (opens Waypoint's 9701/9702 to allowed_cidrs)."
  type        = string
  default     = "pilot"
}

variable "vpc_cidr" {
  description = "Address range of the server's VPC."
  type        = string
  default     = "10.42.0.0/16"
}
