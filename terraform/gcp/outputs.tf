output "public_ip" {
  description = "The Pilot Server's public address (a reserved static address)."
  value       = google_compute_address.server.address
}

output "instance_id" {
  value = google_compute_instance.server.instance_id
}

output "network" {
  value = google_compute_network.pilot.name
}

output "service_account" {
  value = google_service_account.server.email
}

output "cloud_run_previews" {
  description = "Whether the server's agent may list Cloud Run services (and so removes expired previews)."
  value       = var.cloud_run_previews
}

output "cloud_run_pruner_role" {
  description = "The role each Cloud Run preview's deploy grants the server's account on that preview's service (null: none)."
  value       = var.cloud_run_previews ? google_project_iam_custom_role.preview_pruner[0].id : null
}

output "ssh_user" {
  value = "ubuntu"
}

output "docker_host" {
  description = "How Pilot reaches the server's Docker engine."
  value = (var.docker_access == "mtls"
    ? "tcp://${google_compute_address.server.address}:2376"
  : "ssh://ubuntu@${google_compute_address.server.address}")
}

output "open_ports" {
  value = [for p in local.ports : tonumber(p)]
}

output "web_ports" {
  description = "Ports the apps are served on, open to web_cidrs."
  value       = var.web_ports
}

output "databases" {
  description = "Each Cloud SQL database's private address, port and instance name."
  value = {
    for name, db in google_sql_database_instance.database :
    name => { address = db.private_ip_address, port = 5432, instance = db.name }
  }
}
