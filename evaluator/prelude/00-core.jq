# hullcheck's jq standard library for Docker audits. Every policy fragment is evaluated after
# these definitions, with the whole snapshot bound to $snap. Keep functions pure: they read only
# the snapshot. Helpers that enumerate resources emit {type, name, id, path, data}: `path` is the
# JSON Pointer of the resource in the snapshot and `data` is what `assert` and `message` see.

# --- scope -----------------------------------------------------------------------------------

# True when the snapshot holds that subject (host, daemon, engine, files, swarm, image, container,
# processes): a live snapshot holds them all, a plan only what meta.source.subjects lists. A
# container policy that reads engine or daemon facts when they exist judges the container's own
# settings when they are outside the snapshot's scope: `if holds("engine") then ... else ... end`.
def holds($subject): ($snap.meta.source.subjects // null) as $h | $h == null or any($h[]; . == $subject);

# --- resources -------------------------------------------------------------------------------

# The collector's own container (when it ran in one), which no policy should judge.
def collector_container_id: $snap.meta.collector.container_id // "";

def _section($name):
  if $snap[$name] == null then error("\($name) were not collected (see meta.errors)") else $snap[$name] end;

# Every container, running or stopped, except the collector's own.
def containers:
  collector_container_id as $self
  | _section("containers") | to_entries[]
  | select(.value.inspect.Id != $self)
  | {type: "container", name: (.value.inspect.Name | ltrimstr("/")), id: .value.inspect.Id,
     path: "/containers/\(.key)", data: .value};

# Section 5 of the CIS benchmark judges running containers only.
def running_containers: containers | select(.data.inspect.State.Running == true);

def images:
  _section("images") | to_entries[]
  | {type: "image", name: (.value.planned.name // (.value.inspect.RepoTags // [])[0] // .value.inspect.Id), id: .value.inspect.Id,
     path: "/images/\(.key)", data: .value};

def networks:
  _section("networks") | to_entries[]
  | {type: "network", name: .value.Name, id: .value.Id, path: "/networks/\(.key)", data: .value};

# The host as one resource: `data` is the whole snapshot.
def host: {type: "host", name: $snap.meta.hostname, id: $snap.meta.hostname, path: "", data: $snap};

# The daemon as one resource: `data` is the daemon section.
def daemon:
  if $snap.daemon == null then error("daemon section missing") else
  {type: "daemon", name: $snap.meta.hostname, id: $snap.meta.hostname, path: "/daemon", data: $snap.daemon} end;

# One file from the files section as a resource (absent files are still emitted, exists=false).
def file($p):
  if $snap.files == null then error("files were not collected (see meta.errors)")
  elif ($snap.files | has($p)) | not then error("\($p) was not examined by the collector")
  else {type: "file", name: $p, id: $p, path: "/files/\($p | gsub("~"; "~0") | gsub("/"; "~1"))", data: $snap.files[$p]} end;

# --- daemon settings ---------------------------------------------------------------------------

# The effective value of a daemon option, from argv and daemon.json together.
def daemon_opt($name):
  if $snap.daemon.options == null then error("daemon options were not collected")
  else $snap.daemon.options[$name].value end;

def daemon_opt_source($name): $snap.daemon.options[$name].source;

# --- file modes --------------------------------------------------------------------------------

# Octal string ("0644") to a number.
def octal: explode | map(. - 48) | reduce .[] as $d (0; . * 8 + $d);

# A number to an octal string with a leading 0 (420 -> "0644"), as the collector writes modes.
def octal_text: "0" + ([recurse(if . >= 8 then (. / 8 | floor) else empty end) | . % 8 | tostring] | reverse | join(""));

# True when the mode has no permission bit outside the allowed mask: compare bits, not numbers.
# "0622" is NOT within "0644" (group/other write), "0600" is.
def mode_within($allowed):
  (.mode | octal) as $m | ($allowed | octal) as $a
  | [range(0; 12)] | all(. as $bit | (($m / pow(2; $bit)) | floor % 2) <= (($a / pow(2; $bit)) | floor % 2));

# The bits of .mode that grant access: the nine permission bits, plus setuid and setgid on a
# regular file its owner (setuid) or group (setgid) may execute, where they lend that owner's or
# group's privileges to whoever runs it. The sticky bit, and setuid/setgid on a socket, a
# directory or a file nobody may execute, grant no access: a rootless dockerd's socket is 01660
# because it lives in XDG_RUNTIME_DIR (the sticky bit keeps systemd from cleaning it up).
def access_mode:
  (.mode | octal) as $m
  | (((.type // "file") == "file")) as $regular
  | def bit($n): (($m / $n) | floor) % 2;
  ($m % 512)
  + (if $regular and bit(2048) == 1 and bit(64) == 1 then 2048 else 0 end)
  + (if $regular and bit(1024) == 1 and bit(8) == 1 then 1024 else 0 end);

# mode_within, on the bits that grant access (access_mode): what CIS's permission checks mean.
# "01660" is within "0660"; "04755" on an executable file is not within "0755".
def access_within($allowed): {mode: (access_mode | octal_text)} | mode_within($allowed);

def owned_by($uid; $gid): .uid == $uid and .gid == $gid;

# --- containers --------------------------------------------------------------------------------

# Capability names with or without the CAP_ prefix, upper-cased.
def cap_name: ascii_upcase | ltrimstr("CAP_");
def added_caps: [(.inspect.HostConfig.CapAdd // [])[] | cap_name];
def dropped_caps: [(.inspect.HostConfig.CapDrop // [])[] | cap_name];

# Wildcard host addresses, IPv4 and IPv6.
def is_wildcard_ip: . == "" or . == "0.0.0.0" or . == "::" or . == "[::]";

def security_opts: (.inspect.HostConfig.SecurityOpt // []);

def mounts: (.inspect.Mounts // []);
