#!/bin/bash
# pandacluster-etcd: a controller's etcd member, from the node's side (doc/etcd.md).
#
# Each controller holds one slot i of N: member name etcd-i, peer URL http://etcd-i.<zone>:2380,
# data on the slot's EBS volume. The slot reaches the node through its Auto Scaling group's tags,
# read from the instance metadata service (IMDSv2, instance tags enabled):
#   pandacluster:slot  i              pandacluster:size     N (odd, 3-7)
#   pandacluster:volume vol-…         pandacluster:zone-id  the private hosted zone's id
#   pandacluster:domain <zone>        pandacluster:cluster  the stack's name
#   pandacluster:signal ControllerGroupI (the resource CloudFormation waits for)
#
#   pandacluster-etcd prepare   identity, attach, mount, publish, member (before etcd-member.service)
#   pandacluster-etcd ready     wait for the member, promote a learner, mark the cluster formed,
#                               signal CloudFormation (after etcd-member.service)
#   pandacluster-etcd identity|attach|mount|publish|member|signal SUCCESS|FAILURE [reason]
#                               one step (the units run prepare and ready)
#
# AWS calls: curl --aws-sigv4 with the instance role's credentials from IMDSv2 (Flatcar has no AWS
# CLI). The standard overrides are honoured: AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_ENDPOINT_URL and
# AWS_ENDPOINT_URL_EC2 / _ROUTE_53 / _CLOUDFORMATION. Secrets never reach a command line or a log:
# curl reads them from its standard input (-K -).
#
# What it writes: $RUN_DIR/identity.env (the slot), $RUN_DIR/etcd.env (etcd's environment for this
# boot: read by etcd-member.service), $RUN_DIR/status (one line: what the member is doing or waiting
# for, also put on the instance as the tag pandacluster:etcd-status, which `pandacluster status`
# shows).
set -euo pipefail

RUN_DIR=${PANDACLUSTER_ETCD_RUN_DIR:-/run/pandacluster-etcd}
MOUNT_DIR=${PANDACLUSTER_ETCD_MOUNT:-/var/lib/etcd}
DATA_DIR=${ETCD_DATA_DIR:-$MOUNT_DIR/data}
ETCDCTL=${PANDACLUSTER_ETCDCTL:-etcdctl}
# How long `ready` waits for N healthy members before it signals FAILURE (below the creation policy's
# timeout, so that CloudFormation hears the reason rather than a time-out).
READY_TIMEOUT=${PANDACLUSTER_ETCD_READY_TIMEOUT:-900}
# Seconds between two tries of anything that waits (quorum, the volume, the peers).
RETRY=${PANDACLUSTER_ETCD_RETRY_SECONDS:-10}
IMDS=${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
IMDS=${IMDS%/}
# The name AttachVolume is given; on Nitro instances the disk shows as NVMe, found by the volume id.
DEVICE=/dev/xvdf
# The TXT record that says this cluster has formed once: an empty member never bootstraps a new
# cluster after it (it needs the others, or a person).
FORMED=_pandacluster-etcd
TTL=30

say() { echo "pandacluster-etcd: $*" >&2; }
die() {
  status "failed: $*"
  exit 1
}

# status LINE: the member's state, in $RUN_DIR/status, the journal and (best effort) an instance tag.
status() {
  local line=$1
  mkdir -p "$RUN_DIR"
  if [ "$(cat "$RUN_DIR/status" 2>/dev/null || true)" != "$line" ]; then
    printf '%s\n' "$line" >"$RUN_DIR/status"
    say "$line"
    if [ -n "${INSTANCE_ID:-}" ]; then
      ec2 CreateTags "ResourceId.1=$INSTANCE_ID" "Tag.1.Key=pandacluster:etcd-status" \
        "Tag.1.Value=${line:0:255}" >/dev/null 2>&1 || say "could not tag $INSTANCE_ID with its status"
    fi
  fi
}

# --- instance metadata (IMDSv2) -------------------------------------------------------------------

imds_token() {
  if [ -z "${IMDS_TOKEN:-}" ]; then
    IMDS_TOKEN=$(curl -fsS --retry 10 --retry-connrefused --retry-delay 1 -X PUT \
      -H 'X-aws-ec2-metadata-token-ttl-seconds: 21600' "$IMDS/latest/api/token")
  fi
}

imds() {
  imds_token
  curl -fsS --retry 10 --retry-connrefused --retry-delay 1 \
    -H "X-aws-ec2-metadata-token: $IMDS_TOKEN" "$IMDS/latest/$1"
}

# Fresh credentials for each call: the role's keys rotate.
credentials() {
  local role document
  role=$(imds meta-data/iam/security-credentials/ | head -n 1)
  [ -n "$role" ] || die "the instance has no IAM role (its instance profile is missing)"
  document=$(imds "meta-data/iam/security-credentials/$role")
  AWS_KEY=$(json_field AccessKeyId <<<"$document")
  AWS_SECRET=$(json_field SecretAccessKey <<<"$document")
  AWS_TOKEN=$(json_field Token <<<"$document")
  [ -n "$AWS_KEY" ] && [ -n "$AWS_SECRET" ] || die "no credentials for the role $role in the instance metadata"
}

json_field() { tr -d '\n' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p"; }

# --- AWS ------------------------------------------------------------------------------------------

endpoint() {
  local variable="AWS_ENDPOINT_URL_$1"
  local url=${!variable:-${AWS_ENDPOINT_URL:-$2}}
  printf '%s' "${url%/}"
}

# aws_request SERVICE SIGNING_REGION URL [curl arguments…]: the answer on stdout; on an HTTP error
# status 1 and the AWS message in $RUN_DIR/aws-error (callers run it in a subshell: aws_error reads it).
aws_request() {
  local service=$1 region=$2 url=$3 answer code message
  shift 3
  credentials
  answer=$(mktemp)
  mkdir -p "$RUN_DIR"
  : >"$RUN_DIR/aws-error"
  if ! code=$(
    {
      printf 'user = "%s:%s"\n' "$AWS_KEY" "$AWS_SECRET"
      [ -z "$AWS_TOKEN" ] || printf 'header = "x-amz-security-token: %s"\n' "$AWS_TOKEN"
    } | curl -sS -K - --retry 3 --max-time 30 -o "$answer" -w '%{http_code}' \
      --aws-sigv4 "aws:amz:$region:$service" "$@" "$url"
  ); then
    echo "cannot reach $url" >"$RUN_DIR/aws-error"
    rm -f "$answer"
    return 1
  fi
  if [ "$code" -ge 400 ]; then
    message=$(tr -d '\n' <"$answer" | sed -n 's:.*<Message>\([^<]*\)</Message>.*:\1:p')
    echo "HTTP $code${message:+: $message}" >"$RUN_DIR/aws-error"
    rm -f "$answer"
    return 1
  fi
  cat "$answer"
  rm -f "$answer"
}

aws_error() { cat "$RUN_DIR/aws-error" 2>/dev/null || true; }

# ec2 ACTION NAME=VALUE…: an EC2 Query API call.
ec2() {
  local action=$1 pair
  shift
  local form=(--data-urlencode "Action=$action" --data-urlencode "Version=2016-11-15")
  for pair in "$@"; do form+=(--data-urlencode "$pair"); done
  aws_request ec2 "$REGION" "$(endpoint EC2 "https://ec2.$REGION.amazonaws.com")/" "${form[@]}"
}

cloudformation() {
  local action=$1 pair
  shift
  local form=(--data-urlencode "Action=$action" --data-urlencode "Version=2010-05-15")
  for pair in "$@"; do form+=(--data-urlencode "$pair"); done
  aws_request cloudformation "$REGION" \
    "$(endpoint CLOUDFORMATION "https://cloudformation.$REGION.amazonaws.com")/" "${form[@]}"
}

# route53 METHOD PATH [BODY]: Route 53 is global, signed for us-east-1.
route53() {
  local url
  url="$(endpoint ROUTE_53 https://route53.amazonaws.com)/2013-04-01/$2"
  if [ $# -ge 3 ]; then
    aws_request route53 us-east-1 "$url" -X "$1" -H 'Content-Type: text/xml' --data-binary "$3"
  else
    aws_request route53 us-east-1 "$url" -X "$1"
  fi
}

xml_first() { tr -d '\n' | sed -n "s:.*<$1>\\([^<]*\\)</$1>.*:\\1:p" | head -n 1; }

# upsert NAME TYPE VALUE [SET_IDENTIFIER WEIGHT]: one record in the cluster's zone; waits (up to a
# minute) until it is INSYNC. A slot's name is a weighted record: CloudFormation's placeholder
# (weight 0) and the node's own (set "instance", weight 1), which Route 53 answers with.
upsert() {
  local answer change i routing=""
  [ $# -lt 5 ] || routing="<SetIdentifier>$4</SetIdentifier><Weight>$5</Weight>"
  answer=$(route53 POST "hostedzone/$ZONE_ID/rrset" \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ChangeResourceRecordSetsRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><ChangeBatch><Comment>pandacluster-etcd $INSTANCE_ID</Comment><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>$1</Name><Type>$2</Type>$routing<TTL>$TTL</TTL><ResourceRecords><ResourceRecord><Value>$3</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>") ||
    return 1
  change=$(xml_first Id <<<"$answer")
  change=${change##*/}
  for i in $(seq 1 30); do
    [ -n "$change" ] || return 0
    [ "$(route53 GET "change/$change" | xml_first Status)" != "INSYNC" ] || return 0
    sleep 2
  done
  say "$1 is not INSYNC after a minute; going on"
}

# --- the slot --------------------------------------------------------------------------------------

tag() {
  local value
  value=$(imds "meta-data/tags/instance/$1" 2>/dev/null) ||
    die "the instance has no tag $1 in its metadata (is it a pandacluster controller, with instance tags in its metadata?)"
  [[ $value =~ $2 ]] || die "the tag $1 is \"$value\", not $3"
  printf '%s' "$value"
}

cmd_identity() {
  INSTANCE_ID=$(imds meta-data/instance-id)
  REGION=$(imds meta-data/placement/region)
  AZ=$(imds meta-data/placement/availability-zone)
  IP=$(imds meta-data/local-ipv4)
  SLOT=$(tag pandacluster:slot '^[1-9]$' "a slot number")
  SIZE=$(tag pandacluster:size '^[357]$' "3, 5 or 7")
  VOLUME=$(tag pandacluster:volume '^vol-[0-9a-f]+$' "a volume id")
  ZONE_ID=$(tag pandacluster:zone-id '^(/hostedzone/)?[A-Z0-9]+$' "a hosted zone id")
  ZONE_ID=${ZONE_ID##*/}
  DOMAIN=$(tag pandacluster:domain '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' "a DNS name")
  STACK=$(tag pandacluster:cluster '^[a-zA-Z][-a-zA-Z0-9]*$' "a stack name")
  SIGNAL=$(tag pandacluster:signal '^[A-Za-z0-9]+$' "a logical resource id")
  [[ $INSTANCE_ID =~ ^i-[0-9a-f]+$ ]] || die "the instance id \"$INSTANCE_ID\" is not one"
  [[ $IP =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "the private address \"$IP\" is not an IPv4 address"
  [[ $REGION =~ ^[a-z0-9-]+$ ]] || die "the region \"$REGION\" is not one"
  [ "$SLOT" -le "$SIZE" ] || die "slot $SLOT of a cluster of $SIZE"
  mkdir -p "$RUN_DIR"
  cat >"$RUN_DIR/identity.env" <<EOF
INSTANCE_ID=$INSTANCE_ID
REGION=$REGION
AZ=$AZ
IP=$IP
SLOT=$SLOT
SIZE=$SIZE
VOLUME=$VOLUME
ZONE_ID=$ZONE_ID
DOMAIN=$DOMAIN
STACK=$STACK
SIGNAL=$SIGNAL
NAME=etcd-$SLOT
EOF
  say "slot $SLOT of $SIZE: etcd-$SLOT.$DOMAIN, volume $VOLUME, instance $INSTANCE_ID ($IP, $AZ)"
}

load_identity() {
  [ -f "$RUN_DIR/identity.env" ] || cmd_identity
  # shellcheck source=/dev/null
  . "$RUN_DIR/identity.env"
}

peer_url() { printf 'http://etcd-%s.%s:2380' "$1" "$DOMAIN"; }
client_url() { printf 'http://etcd-%s.%s:2379' "$1" "$DOMAIN"; }

# The other slots' client URLs, comma-separated.
others() {
  local j list=""
  for j in $(seq 1 "$SIZE"); do
    [ "$j" = "$SLOT" ] || list="$list${list:+,}$(client_url "$j")"
  done
  printf '%s' "$list"
}

etcdctl_at() {
  local endpoints=$1
  shift
  ETCDCTL_API=3 "$ETCDCTL" --endpoints="$endpoints" --dial-timeout=3s --command-timeout=10s "$@"
}

# --- the volume -----------------------------------------------------------------------------------

cmd_attach() {
  load_identity
  local answer attachments holder state
  while true; do
    if ! answer=$(ec2 DescribeVolumes "VolumeId.1=$VOLUME"); then
      status "waiting: cannot describe the volume $VOLUME ($(aws_error))"
      sleep "$RETRY"
      continue
    fi
    attachments=$(tr -d '\n' <<<"$answer" | sed -n 's:.*<attachmentSet>\(.*\)</attachmentSet>.*:\1:p')
    holder=$(xml_first instanceId <<<"$attachments")
    state=$(xml_first status <<<"$attachments")
    if [ "$holder" = "$INSTANCE_ID" ] && [ "$state" = "attached" ]; then
      say "volume $VOLUME attached"
      return 0
    fi
    if [ -n "$holder" ] && [ "$holder" != "$INSTANCE_ID" ]; then
      # The instance this one replaces still holds it: EC2 detaches it when that one terminates.
      status "waiting: the volume $VOLUME is still $state to $holder"
    elif [ -z "$holder" ]; then
      if ec2 AttachVolume "VolumeId=$VOLUME" "InstanceId=$INSTANCE_ID" "Device=$DEVICE" >/dev/null; then
        say "attaching volume $VOLUME as $DEVICE"
      else
        status "waiting: cannot attach the volume $VOLUME ($(aws_error))"
      fi
    fi
    sleep "$RETRY"
  done
}

cmd_mount() {
  load_identity
  local by_id="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${VOLUME/-/}" device="" i found
  if mountpoint -q "$MOUNT_DIR"; then
    say "$MOUNT_DIR already mounted"
    return 0
  fi
  for i in $(seq 1 60); do
    for found in "$by_id" "$DEVICE"; do
      if [ -b "$found" ]; then
        device=$(readlink -f "$found")
        break 2
      fi
    done
    sleep 2
  done
  [ -n "$device" ] || die "the volume $VOLUME is attached but no disk $by_id (or $DEVICE) appeared"
  # blkid exits 2 when the device has no filesystem at all: only then is it formatted.
  local probe=0
  blkid "$device" >/dev/null 2>&1 || probe=$?
  if [ "$probe" = 2 ]; then
    say "formatting $device (volume $VOLUME) for etcd-$SLOT"
    mkfs.ext4 -q -L "etcd-$SLOT" "$device"
  elif [ "$probe" != 0 ]; then
    die "cannot probe $device for a filesystem (blkid status $probe)"
  fi
  mkdir -p "$MOUNT_DIR"
  mount -o noatime "$device" "$MOUNT_DIR"
  say "volume $VOLUME ($device) mounted on $MOUNT_DIR"
}

# --- the name -------------------------------------------------------------------------------------

cmd_publish() {
  load_identity
  until upsert "etcd-$SLOT.$DOMAIN." A "$IP" instance 1; do
    status "waiting: cannot point etcd-$SLOT.$DOMAIN at $IP ($(aws_error))"
    sleep "$RETRY"
  done
  say "etcd-$SLOT.$DOMAIN → $IP"
}

formed() {
  local answer
  answer=$(route53 GET "hostedzone/$ZONE_ID/rrset?name=$FORMED.$DOMAIN.&type=TXT&maxitems=1") || return 2
  tr -d '\n' <<<"$answer" | grep -q "<Name>$FORMED.$DOMAIN.</Name><Type>TXT</Type>"
}

# --- the member -----------------------------------------------------------------------------------

has_data() { [ -d "$DATA_DIR/member/wal" ] && [ -n "$(ls -A "$DATA_DIR/member/wal" 2>/dev/null)" ]; }

# write_env STATE INITIAL_CLUSTER: etcd's environment for this boot.
write_env() {
  local file="$RUN_DIR/etcd.env"
  cat >"$file.new" <<EOF
ETCD_NAME=etcd-$SLOT
ETCD_INITIAL_CLUSTER=$2
ETCD_INITIAL_CLUSTER_STATE=$1
ETCD_INITIAL_CLUSTER_TOKEN=$STACK
ETCD_INITIAL_ADVERTISE_PEER_URLS=$(peer_url "$SLOT")
ETCD_ADVERTISE_CLIENT_URLS=$(client_url "$SLOT")
ETCD_LISTEN_PEER_URLS=http://$IP:2380
ETCD_LISTEN_CLIENT_URLS=http://$IP:2379
ETCD_STRICT_RECONFIG_CHECK=true
ETCDCTL_ENDPOINTS=$(client_url "$SLOT")
EOF
  mv "$file.new" "$file"
}

static_cluster() {
  local j list=""
  for j in $(seq 1 "$SIZE"); do list="$list${list:+,}etcd-$j=$(peer_url "$j")"; done
  printf '%s' "$list"
}

# The members as the others see them: "id, status, name, peer URLs, client URLs, is learner" lines.
members() { etcdctl_at "$(others)" member list -w simple 2>/dev/null; }

# How many of the other slots' members answer a linearizable read (so hold quorum with the rest).
healthy_others() {
  local j count=0
  for j in $(seq 1 "$SIZE"); do
    [ "$j" = "$SLOT" ] && continue
    etcdctl_at "$(client_url "$j")" endpoint health >/dev/null 2>&1 && count=$((count + 1))
  done
  printf '%s' "$count"
}

cmd_member() {
  load_identity
  mkdir -p "$RUN_DIR"
  local me list line id state name learner quorum=$((SIZE / 2 + 1)) healthy was_formed
  me=$(peer_url "$SLOT")
  if has_data; then
    write_env existing "$(static_cluster)"
    status "starting: etcd-$SLOT with its data"
    return 0
  fi
  while true; do
    if ! list=$(members) || [ -z "$list" ]; then
      was_formed=0
      formed || was_formed=$?
      case $was_formed in
      1)
        write_env new "$(static_cluster)"
        status "starting: etcd-$SLOT bootstraps the cluster of $SIZE (no member answers yet)"
        return 0
        ;;
      0) status "waiting: etcd-$SLOT has no data and no other member answers; the cluster formed before, so it does not bootstrap a new one (it needs $quorum members of $SIZE, see doc/etcd.md)" ;;
      *) status "waiting: no other member answers and Route 53 cannot say whether the cluster formed before ($(aws_error))" ;;
      esac
      sleep "$RETRY"
      continue
    fi
    line=$(grep -F ", $me, " <<<"$list" | head -n 1 || true)
    id=$(cut -d, -f1 <<<"$line" | tr -d ' ')
    state=$(cut -d, -f2 <<<"$line" | tr -d ' ')
    name=$(cut -d, -f3 <<<"$line" | tr -d ' ')
    learner=$(cut -d, -f6 <<<"$line" | tr -d ' ')
    if [ -n "$id" ] && [ "$state" = "unstarted" ] && [ "$learner" = "true" ]; then
      # Added as a learner at an earlier boot that went no further: start as that learner.
      write_env existing "$(current_cluster "$list")"
      status "starting: etcd-$SLOT joins as the learner $id added before"
      return 0
    fi
    if [ -n "$id" ] && [ "$state" = "unstarted" ]; then
      # A member of the static bootstrap that never started: it bootstraps with the others.
      write_env new "$(static_cluster)"
      status "starting: etcd-$SLOT joins the bootstrap of $SIZE"
      return 0
    fi
    # This slot's member started before and its data is gone (or it was never a member): replace it.
    if [ "$SIZE" -lt 3 ]; then
      status "waiting: etcd-$SLOT lost its data; a cluster of $SIZE cannot replace a member safely"
      sleep "$RETRY"
      continue
    fi
    healthy=$(healthy_others)
    if [ "$healthy" -lt "$quorum" ]; then
      status "waiting: etcd-$SLOT lost its data; only $healthy other members of $SIZE are healthy, $quorum are needed to replace it safely (no member is removed without quorum)"
      sleep "$RETRY"
      continue
    fi
    if [ -n "$id" ]; then
      if ! etcdctl_at "$(others)" member remove "$id" >/dev/null; then
        status "waiting: cannot remove the stale member $id of etcd-$SLOT"
        sleep "$RETRY"
        continue
      fi
      say "removed the stale member $id ($name) of etcd-$SLOT"
    fi
    if ! etcdctl_at "$(others)" member add "etcd-$SLOT" --peer-urls="$me" --learner >/dev/null; then
      status "waiting: cannot add etcd-$SLOT as a learner"
      sleep "$RETRY"
      continue
    fi
    list=$(members) || true
    write_env existing "$(current_cluster "$list")"
    status "starting: etcd-$SLOT joins as a new learner (its data was gone)"
    return 0
  done
}

# ETCD_INITIAL_CLUSTER for a member joining a running cluster: every member's name and peer URL, this
# slot's (unstarted, so nameless in the list) under its own name.
current_cluster() {
  local me list="" line peer name
  me=$(peer_url "$SLOT")
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    name=$(cut -d, -f3 <<<"$line" | tr -d ' ')
    peer=$(cut -d, -f4 <<<"$line" | tr -d ' ')
    [ "$peer" = "$me" ] && name="etcd-$SLOT"
    [ -n "$name" ] || continue
    list="$list${list:+,}$name=$peer"
  done <<<"$1"
  grep -qF "=$me" <<<"$list" || list="$list${list:+,}etcd-$SLOT=$me"
  printf '%s' "$list"
}

# --- ready: promote, mark, signal -----------------------------------------------------------------

cmd_signal() {
  load_identity
  if cloudformation SignalResource "StackName=$STACK" "LogicalResourceId=$SIGNAL" \
    "UniqueId=$INSTANCE_ID" "Status=$1" >/dev/null; then
    say "signalled $1 to $SIGNAL of $STACK"
  else
    # After the stack's creation the group takes no signal (a replaced controller): nothing to tell.
    say "no $1 signal taken by $SIGNAL of $STACK ($(aws_error))"
  fi
}

cmd_ready() {
  load_identity
  local deadline=$((SECONDS + READY_TIMEOUT)) list line id learner count started reason=""
  local mine
  mine=$(client_url "$SLOT")
  while [ "$SECONDS" -lt "$deadline" ]; do
    # A learner serves neither member list nor a health check (etcd: "rpc not supported for
    # learner"): the members are asked through the others, and this one's health once it votes.
    if ! list=$(members) || [ -z "$list" ]; then
      reason="etcd-$SLOT cannot list the members (no other member answers)"
    else
      line=$(grep -F ", etcd-$SLOT, " <<<"$list" | head -n 1 || true)
      id=$(cut -d, -f1 <<<"$line" | tr -d ' ')
      learner=$(cut -d, -f6 <<<"$line" | tr -d ' ')
      if [ "$learner" = "true" ]; then
        if etcdctl_at "$(others)" member promote "$id" >/dev/null 2>&1; then
          say "etcd-$SLOT promoted from learner to voting member"
          continue
        fi
        reason="etcd-$SLOT is a learner catching up with the leader"
      elif ! etcdctl_at "http://$IP:2379" endpoint health >/dev/null 2>&1; then
        reason="etcd-$SLOT is not healthy (no quorum, or it cannot reach its peers)"
      else
        count=$(grep -c . <<<"$list")
        started=$(grep -c ', started, ' <<<"$list" || true)
        if [ "$count" = "$SIZE" ] && [ "$started" = "$SIZE" ] && ! grep -q ', true$' <<<"$list"; then
          formed >/dev/null 2>&1 || upsert "$FORMED.$DOMAIN." TXT "\"formed $STACK\"" ||
            say "could not mark the cluster formed ($(aws_error))"
          status "healthy: etcd-$SLOT, one of $SIZE voting members ($mine)"
          cmd_signal SUCCESS
          return 0
        fi
        reason="$started of $count members started, $SIZE wanted"
      fi
    fi
    status "waiting: $reason"
    sleep "$RETRY"
  done
  status "failed: after ${READY_TIMEOUT}s, $reason"
  cmd_signal FAILURE
  return 1
}

cmd_prepare() {
  cmd_identity
  cmd_attach
  cmd_mount
  cmd_publish
  cmd_member
}

main() {
  local command=${1:-}
  shift || true
  case $command in
  prepare | identity | attach | mount | publish | member | ready) "cmd_$command" ;;
  signal)
    [[ ${1:-} =~ ^(SUCCESS|FAILURE)$ ]] || die "signal takes SUCCESS or FAILURE"
    cmd_signal "$1"
    ;;
  *)
    echo "usage: pandacluster-etcd prepare|ready|identity|attach|mount|publish|member|signal SUCCESS|FAILURE" >&2
    exit 2
    ;;
  esac
}

main "$@"
