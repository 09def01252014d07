#!/usr/bin/env bash
# Build the monitor image (linux/arm64) and push it to the stack's ECR repository, then print the
# `sam deploy` override that rolls the ECS service onto it (one task at a time: the service never runs two).
#
#   infra/monitor-image.sh carsbot-prod            # tag = current git commit
#   infra/monitor-image.sh carsbot-prod v1.4.0
#
# Needs: aws CLI v2 with credentials for the account, docker with buildx (a container runtime).
set -euo pipefail

stack=${1:?usage: infra/monitor-image.sh <stack-name> [tag]}
tag=${2:-$(git rev-parse --short HEAD)}
root=$(cd "$(dirname "$0")/.." && pwd)

repo=$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='MonitorRepositoryUri'].OutputValue" --output text)
if [[ -z "$repo" || "$repo" == "None" ]]; then
  echo "stack $stack has no MonitorRepositoryUri output: deploy the template once first (sam deploy)" >&2
  exit 1
fi

registry=${repo%%/*}
region=$(cut -d. -f4 <<<"$registry")
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
docker buildx build --platform linux/arm64 -f "$root/monitor/Dockerfile" -t "$repo:$tag" --push "$root"

cat <<MSG
Pushed $repo:$tag
Roll the monitor onto it (VPC and public subnets as in your first monitor deploy):
  sam deploy --config-env <env> --parameter-overrides MonitorImageUri=$repo:$tag VpcId=vpc-... PublicSubnetIds=subnet-a,subnet-b
MSG
