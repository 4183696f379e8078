# Inputs every home's template takes; Pilot fills them from pilot.toml.

variable "project" {
  description = "Pilot project name; prefixes every resource."
  type        = string
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

variable "web_ports" {
  description = "Ports Pilot's proxy serves the apps on (server.http_port), open to web_cidrs."
  type        = list(number)
  default     = [80]
}

variable "web_cidrs" {
  description = "Who may reach the apps: everyone by default, since they are web apps."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
