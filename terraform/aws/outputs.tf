output "public_ip" {
  # The instance's own public address: an Elastic IP would need `vpc = true` on aws 3.x,
  # an argument current releases have removed.
  description = "The Pilot Server's public address."
  value       = aws_instance.server.public_ip
}

output "instance_id" {
  value = aws_instance.server.id
}

output "vpc_id" {
  value = aws_vpc.pilot.id
}

output "security_group_id" {
  value = aws_security_group.server.id
}

output "ami_id" {
  value = data.aws_ami.ubuntu.id
}

output "ssh_user" {
  value = "ubuntu"
}

output "docker_host" {
  description = "How Pilot reaches the server's Docker engine."
  value = (var.docker_access == "mtls"
    ? "tcp://${aws_instance.server.public_ip}:2376"
  : "ssh://ubuntu@${aws_instance.server.public_ip}")
}

output "open_ports" {
  value = [for p in local.ports : p.port]
}

output "web_ports" {
  description = "Ports the apps are served on, open to web_cidrs."
  value       = var.web_ports
}

output "databases" {
  description = "Each RDS database's address (reachable from the Pilot Server only)."
  value = {
    for name, db in aws_db_instance.database : name => {
      identifier = db.identifier
      address    = db.address
      port       = db.port
    }
  }
}

output "lambda_previews" {
  description = "Whether the server's role may remove the Lambda previews of lambda_preview_apps (so its agent removes expired ones)."
  value       = local.lambda_previews ? var.lambda_preview_apps : []
}

output "ci_worker" {
  description = "Whether the server's role holds the CI worker's grant (server.ci_worker), so a deploy may start the worker there."
  value       = local.ci_worker
}
