"""ECS on Fargate: a service behind a load balancer."""
