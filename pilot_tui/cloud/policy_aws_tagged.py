"""The AWS deployer's statements on resources AWS names at random (CloudFront
distributions, security groups, load balancers): told apart by the project tag, which only
the call creating one may write, so nothing of anybody else's becomes the project's."""

from __future__ import annotations

from typing import Any

from pilot_tui.naming import PROJECT_TAG

Statement = dict[str, Any]


def tagged(project: str) -> dict[str, dict[str, Any]]:
    """The resource is this project's: it carries the project tag."""
    return {"StringEquals": {f"aws:ResourceTag/{PROJECT_TAG}": project}}


def tagging(project: str) -> dict[str, dict[str, Any]]:
    """A create (or its tagging) that writes the project tag and no other tag."""
    return {
        "StringEquals": {f"aws:RequestTag/{PROJECT_TAG}": project},
        "ForAllValues:StringEquals": {"aws:TagKeys": [PROJECT_TAG]},
    }


def cdn_statements(project: str, account: str) -> list[Statement]:
    """CloudFront ids are random: distributions are told apart by the project tag, written
    when one is made (create_distribution_with_tags) and never onto an existing one."""
    distributions = f"arn:aws:cloudfront::{account}:distribution/*"
    return [
        {
            "Sid": "CdnRead",
            "Effect": "Allow",
            "Action": [
                "cloudfront:ListDistributions",
                "cloudfront:GetDistribution",
                "cloudfront:GetDistributionConfig",
                "cloudfront:ListTagsForResource",
            ],
            "Resource": "*",
        },
        # A signing setting, touching nothing that exists; AWS offers no way to scope it.
        {
            "Sid": "CdnOriginAccess",
            "Effect": "Allow",
            "Action": "cloudfront:CreateOriginAccessControl",
            "Resource": "*",
        },
        {
            "Sid": "CdnCreateTagged",
            "Effect": "Allow",
            "Action": ["cloudfront:CreateDistribution", "cloudfront:TagResource"],
            "Resource": "*",
            "Condition": tagging(project),
        },
        {
            "Sid": "CdnOwnDistributions",
            "Effect": "Allow",
            "Action": [
                "cloudfront:UpdateDistribution",
                "cloudfront:DeleteDistribution",
                "cloudfront:CreateInvalidation",
            ],
            "Resource": distributions,
            "Condition": tagged(project),
        },
        # CloudFront has no CreateAction key: the Allow above would let an existing
        # distribution be tagged into the project (and then changed). Not one of ours: no.
        {
            "Sid": "CdnNoRetagging",
            "Effect": "Deny",
            "Action": ["cloudfront:TagResource", "cloudfront:UntagResource"],
            "Resource": distributions,
            "Condition": {"StringNotEquals": {f"aws:ResourceTag/{PROJECT_TAG}": project}},
        },
    ]


def network_statements(project: str, arn: str) -> list[Statement]:
    """An ECS app's security groups and load balancer (ecs_network.py). Group ids are
    random and load balancer names may be shortened: both are told apart by the project
    tag, which may be written only by the call creating them (ec2:CreateAction,
    elasticloadbalancing:CreateAction), so nothing of anybody else's becomes the project's."""
    return [
        {
            "Sid": "NetworkRead",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeVpcs",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "elasticloadbalancing:Describe*",
            ],
            "Resource": "*",
        },
        *_security_group_statements(project, arn),
        *_load_balancer_statements(project, arn),
    ]


def _security_group_statements(project: str, arn: str) -> list[Statement]:
    groups = f"arn:aws:ec2:{arn}:security-group/*"
    return [
        {
            "Sid": "SecurityGroupCreate",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": groups,
            "Condition": tagging(project),
        },
        # CreateSecurityGroup is checked on the VPC too; a group changes nothing in it.
        {
            "Sid": "SecurityGroupVpc",
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": f"arn:aws:ec2:{arn}:vpc/*",
        },
        {
            "Sid": "SecurityGroupTagOnCreate",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": groups,
            "Condition": {
                **tagging(project),
                "StringEquals": {
                    f"aws:RequestTag/{PROJECT_TAG}": project,
                    "ec2:CreateAction": "CreateSecurityGroup",
                },
            },
        },
        {
            "Sid": "SecurityGroupsOwn",
            "Effect": "Allow",
            "Action": [
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:RevokeSecurityGroupIngress",
                "ec2:DeleteSecurityGroup",
            ],
            "Resource": groups,
            "Condition": tagged(project),
        },
    ]


def _load_balancer_statements(project: str, arn: str) -> list[Statement]:
    elb = f"arn:aws:elasticloadbalancing:{arn}"
    balancers = [f"{elb}:loadbalancer/app/*", f"{elb}:targetgroup/*", f"{elb}:listener/app/*"]
    creates = ["CreateLoadBalancer", "CreateTargetGroup", "CreateListener"]
    return [
        {
            "Sid": "LoadBalancerCreate",
            "Effect": "Allow",
            "Action": [
                "elasticloadbalancing:CreateLoadBalancer",
                "elasticloadbalancing:CreateTargetGroup",
            ],
            "Resource": balancers,
            "Condition": tagging(project),
        },
        {
            "Sid": "LoadBalancerTagOnCreate",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:AddTags",
            "Resource": balancers,
            "Condition": {
                **tagging(project),
                "StringEquals": {
                    f"aws:RequestTag/{PROJECT_TAG}": project,
                    "elasticloadbalancing:CreateAction": creates,
                },
            },
        },
        {
            "Sid": "LoadBalancersOwn",
            "Effect": "Allow",  # CreateListener: on its balancer
            "Action": [
                "elasticloadbalancing:CreateListener",
                "elasticloadbalancing:DeleteListener",
                "elasticloadbalancing:DeleteLoadBalancer",
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
            ],
            "Resource": balancers,
            "Condition": tagged(project),
        },
    ]
