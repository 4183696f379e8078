#cloud-config
# Pilot Server bootstrap. Docker is reachable over SSH (default: the socket stays local) or,
# with docker_access = "mtls", on 2376 with --tlsverify only. Plain TCP (2375) is never used.
package_update: true
packages:
  - docker.io
  - ca-certificates
%{ if docker_access == "mtls" ~}
write_files:
  - path: /etc/systemd/system/docker.service.d/pilot-tls.conf
    permissions: "0644"
    content: |
      # Pilot: Docker on 2376 for clients with a certificate from the project's CA only.
      [Service]
      ExecStart=
      ExecStart=/usr/bin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --tlsverify --tlscacert=/etc/docker/pilot-tls/ca.pem --tlscert=/etc/docker/pilot-tls/server-cert.pem --tlskey=/etc/docker/pilot-tls/server-key.pem
%{ endif ~}
runcmd:
  - usermod -aG docker ubuntu
%{ if docker_access == "mtls" ~}
  # Pilot copies the server certificate and key here over SSH, then restarts Docker.
  - install -d -m 0700 /etc/docker/pilot-tls
  - systemctl daemon-reload
  - systemctl enable docker
%{ else ~}
  - systemctl enable --now docker
%{ endif ~}
%{ if engine == "waypoint" ~}
  # Waypoint server and runner, from HashiCorp's apt repository, on the local Docker engine.
  - curl -fsSL https://apt.releases.hashicorp.com/gpg | gpg --dearmor -o /usr/share/keyrings/hashicorp.gpg
  - echo "deb [signed-by=/usr/share/keyrings/hashicorp.gpg] https://apt.releases.hashicorp.com $(lsb_release -cs) main" > /etc/apt/sources.list.d/hashicorp.list
  - apt-get update && apt-get install -y waypoint
  - waypoint install -platform=docker -accept-tos
%{ endif ~}
