#cloud-config
# Pilot Server bootstrap: Docker engine reachable over SSH (default) or mutual TLS on 2376.
# The Docker socket is never exposed on plain TCP.
package_update: true
packages:
  - docker.io
  - ca-certificates
runcmd:
  - systemctl enable --now docker
  - usermod -aG docker ubuntu
%{ if docker_access == "mtls" ~}
  # The TLS material is copied over SSH by Pilot after boot (never in user data), then:
  - mkdir -p /etc/docker/pilot-tls
%{ endif ~}
%{ if engine == "waypoint" ~}
  - echo "waypoint server and runner are installed by pilot-tui after boot" > /etc/motd.d/pilot
%{ endif ~}
