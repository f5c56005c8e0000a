# Helpers for the host, daemon and daemon-file policies (CIS sections 1-3).
# Every helper fails closed: data the collector did not gather raises an error (the policy or the
# resource becomes `error`), it never reads as "compliant".

# --- daemon settings ---------------------------------------------------------------------------

# The effective value of a daemon setting (argv and daemon.json together, see daemon_opt), but
# unknown, hence an error, when the daemon.json in force does not parse and the setting was not
# given on the command line: the broken file may well set it.
def daemon_setting($name):
  ($snap.daemon.config_file // {}) as $cf
  | if $snap.daemon.options == null then error("daemon options were not collected (see meta.errors)")
    elif ($cf.parse_error // null) != null and daemon_opt_source($name) != "argv"
    then error("\($cf.path) does not parse (\($cf.parse_error)): the effective \($name) is unknown")
    else daemon_opt($name) end;

# Where a daemon setting came from, in words, for messages (the engine's own words: dockerd's, or
# the Podman service's, which is judged on containers.conf, not on any daemon.json).
def setting_origin($name):
  daemon_opt_source($name) as $s
  | (if ($snap.meta.engine.kind // "docker") == "podman" then "podman service" else "dockerd" end) as $d
  | if $s == "argv" then "\($d) command line"
    elif $s == "config-file" then ($snap.daemon.config_file.path // "daemon.json")
    elif $s == "default" then "\($d) default"
    elif $s == "environment" then "\($d) environment"
    else "not reported" end;

# "name=value (origin)" for messages.
def setting_text($name): "\($name)=\(daemon_opt($name) | tojson) (\(setting_origin($name)))";

# --- engine facts ------------------------------------------------------------------------------

def engine_info:
  if $snap.engine.info == null then error("engine info was not collected (see meta.errors)") else $snap.engine.info end;

# SecurityOptions as docker info reports them, e.g. "name=seccomp,profile=builtin".
def engine_security_options: [(engine_info.SecurityOptions // [])[] | tostring];

# The SecurityOptions entry for one feature ("seccomp", "userns", "rootless", ...), or null.
def engine_security_option($name):
  [engine_security_options[] | select(split(",") | any(. == "name=\($name)"))] | first;

# The profile of a SecurityOptions entry ("name=seccomp,profile=default" -> "default"), or null.
def security_option_value($key):
  [split(",")[] | select(startswith($key + "=")) | ltrimstr($key + "=")] | first;

# The engine runs rootless, by what the collector and the engine said. Never an error: without
# /info, the collector's word (the daemon's own environment) decides.
def is_rootless: $snap.meta.collector.rootless == true or $snap.meta.engine.rootless == true
  or any((($snap.engine.info // {}).SecurityOptions // [])[]; tostring | split(",") | any(. == "name=rootless"));

# The engine the snapshot was collected from (meta.engine.kind); snapshots from before hullcheck
# told engines apart are dockerd's.
def engine_kind: $snap.meta.engine.kind // "docker";
def is_podman: engine_kind == "podman";

# The logging driver new containers get: docker info's, or Podman's containers.conf log_driver
# (Podman's compat /info reports LoggingDriver "").
def engine_log_driver: if is_podman then daemon_setting("log-driver") else engine_info.LoggingDriver end;

# --- whose files: this engine's, never another one's on the same host ----------------------------
# The CIS benchmark names the files of the system's dockerd: /etc/docker, /var/lib/docker,
# /etc/default/docker, /run/containerd, the system's docker.service. A Podman service, or a
# rootless dockerd, reads none of them (but /etc/docker/certs.d, which Podman also reads): on a
# host that runs both, they belong to the other engine, and judging them would judge it.

# The system's dockerd, run by root: the engine whose files the benchmark names.
def is_system_dockerd: (is_podman | not) and (is_rootless | not);

# The engine's systemd unit of a type ("service", "socket"): docker.service, or podman.service. A
# rootless engine's is its user's (the collector reads the user's unit search path then).
def engine_unit($type): if is_podman then "podman.\($type)" else "docker.\($type)" end;

# Whether the engine can enforce a resource limit ("memory", "cpu", "pids"): a rootless dockerd
# without cgroup delegation runs with CgroupDriver "none" and records limits it never applies;
# docker info says so per limit (MemoryLimit, CPUShares, PidsLimit false), Podman also lists the
# cgroup controllers it may use (libpod /info host.cgroupControllers).
def limits_enforced($controller):
  engine_info as $i
  | ({memory: "MemoryLimit", cpu: "CPUShares", pids: "PidsLimit"}[$controller]) as $flag
  | ($snap.engine.libpod_info.host.cgroupControllers // null) as $controllers
  | ($i.CgroupDriver // "") != "none" and $i[$flag] != false
    and ($controllers == null or ($controllers | index($controller)) != null);

# The engine is known not to enforce a resource limit: judged only when the snapshot holds the
# engine; a plan (which does not) judges the container's own setting alone.
def limits_unenforced($controller): holds("engine") and (limits_enforced($controller) | not);

# Why limits_enforced is false, for messages.
def limits_unenforced_text($controller):
  "the \(engine_kind) engine cannot enforce \($controller) limits (CgroupDriver \(engine_info.CgroupDriver // "?" | tojson)"
  + (if ($snap.engine.libpod_info.host.cgroupControllers // null) != null
     then ", cgroup controllers \($snap.engine.libpod_info.host.cgroupControllers | tojson)" else "" end) + ")";

# Swarm mode is on (active, or locked/pending on its way there).
def swarm_enabled:
  ($snap.swarm.state // $snap.engine.info.Swarm.LocalNodeState // "inactive") as $s
  | ["active", "locked", "pending"] | index($s) != null;

# containerd's socket as the daemon is told to reach it (--containerd, "containerd"), or null.
def containerd_address:
  daemon_setting("containerd") | if type == "string" then ltrimstr("unix://") | select(startswith("/")) // null else null end;

# --- where the daemon listens --------------------------------------------------------------------

# ListenStream= values of the docker.socket unit and its drop-ins, in order; an empty
# ListenStream= clears the values before it, as systemd reads it (a drop-in replacing a listener).
def socket_unit_listeners:
  if $snap.daemon.units == null then error("systemd units were not collected (see meta.errors)") else . end
  | ($snap.daemon.units[engine_unit("socket")] // {}) as $u
  | [($u.contents // ""), (($u.dropins // [])[] | .contents // "")]
  | reduce (.[] | split("\n")[]) as $line ([];
      if ($line | test("^\\s*ListenStream\\s*=\\s*$")) then []
      else . + [$line | capture("^\\s*ListenStream\\s*=\\s*(?<v>\\S+)\\s*$") | .v] end);

# TCP endpoints the daemon serves: -H/hosts entries with tcp:// or no scheme at all (dockerd
# reads "host:port" as TCP), and, when it takes its sockets from systemd (-H fd://), the
# docker.socket unit's ListenStream= values that are not paths.
def daemon_tcp_endpoints:
  [(daemon_setting("hosts") // [])[] | tostring] as $hosts
  | [$hosts[] | select(startswith("tcp://") or (contains("://") | not) and . != "")]
    + (if any($hosts[]; startswith("fd://")) then
         [socket_unit_listeners[] | select((startswith("/") or startswith("@")) | not) | "tcp://" + .]
       else [] end);

# --- files -------------------------------------------------------------------------------------

def files_collected:
  if $snap.files == null then error("files were not collected (see meta.errors)") else $snap.files end;

# A file resource, following a symlink to the entry of its target (modes and owners of a link
# mean nothing); an error when the target was not examined. The name stays the path asked for.
def resolved_file($p):
  file($p) as $f
  | if $f.data.type == "symlink" then
      ($f.data.realpath // error("\($p) is a symlink whose target could not be resolved")) as $t
      | if (files_collected | has($t)) then file($t) | .name = $p | .id = $p | .data += {path: $p, via: $t}
        else error("\($p) links to \($t), which the collector did not examine") end
    else $f | .data += {path: $p} end;

# True when the path exists on the host; an error when the collector did not look at it.
def file_exists($p): file($p).data.exists == true;

# "root:root (0:0)" for messages.
def owner_text: "\(.owner // .uid):\(.group // .gid) (\(.uid):\(.gid))";

# Owned by uid 0 and gid 0.
def owned_by_root: owned_by(0; 0);

# The uid the engine runs as: 0, or a rootless engine's user (from its process).
def engine_uid:
  ($snap.daemon.process // {}) as $p
  | ($p.uid // ([($snap.host.processes // [])[] | select(.pid == $p.pid) | .uid] | first) // 0);

# Root's, or, for a rootless engine, its own user's: a rootless daemon reads its config from the
# user's home, which root does not own.
def owned_by_engine_user: owned_by_root or (is_rootless and engine_uid != 0 and .uid == engine_uid);

# Who owned_by_engine_user accepts, for messages.
def engine_owner_text: "root:root" + (if is_rootless then " nor the rootless engine's user (uid \(engine_uid))" else "" end);

# A path's directory ("/" for a top-level path).
def _dirname: if test("^/[^/]*$") then "/" else sub("/[^/]+$"; "") end;

# The environment of the engine's process (HOME, XDG_*), {} when unknown.
def engine_environment: ($snap.daemon.process.environment // {});

# A rootless engine's $XDG_CONFIG_HOME ($HOME/.config) and $XDG_RUNTIME_DIR (/run/user/UID).
def engine_config_home:
  engine_environment as $e
  | if ($e.XDG_CONFIG_HOME // "") != "" then $e.XDG_CONFIG_HOME
    elif ($e.HOME // "") != "" then $e.HOME + "/.config"
    else error("the rootless engine's configuration directory is unknown: its environment was not read (see meta.errors)") end;
def engine_runtime_dir:
  engine_environment as $e
  | if ($e.XDG_RUNTIME_DIR // "") != "" then $e.XDG_RUNTIME_DIR else "/run/user/\(engine_uid)" end;

# The engine's configuration directory: /etc/docker; Podman's /etc/containers (a rootless Podman
# reads it too); a rootless dockerd's $XDG_CONFIG_HOME/docker.
def engine_config_dir:
  if is_podman then "/etc/containers" elif is_system_dockerd then "/etc/docker" else engine_config_home + "/docker" end;

# The directories of per-registry certificates the engine reads: dockerd's <config dir>/certs.d;
# Podman's (containers/image) ~/.config/containers/certs.d when rootless, /etc/containers/certs.d
# and /etc/docker/certs.d.
def engine_certs_dirs:
  if is_podman then (if is_rootless then [engine_config_home + "/containers/certs.d"] else [] end)
                    + ["/etc/containers/certs.d", "/etc/docker/certs.d"]
  else [engine_config_dir + "/certs.d"] end;

# The configuration file in force (daemon.json, or the containers.conf that wins); only the system
# dockerd's default may be assumed when the collector did not say.
def engine_config_file:
  $snap.daemon.config_file.path
  // (if is_system_dockerd then "/etc/docker/daemon.json"
      else error("the engine's configuration file in force is unknown (see meta.errors)") end);

# The containerd sockets the engine uses ([] for Podman): the system dockerd's /run/containerd
# socket and its --containerd; a rootless dockerd's --containerd, else the user's own containerd
# ($XDG_RUNTIME_DIR/containerd) when it runs, else the one dockerd starts under its exec-root
# (dockerd's systemContainerdRunning with honorXDG).
def engine_containerd_sockets:
  if is_podman then []
  elif is_system_dockerd then ["/run/containerd/containerd.sock", (containerd_address // empty)] | unique
  else (containerd_address // null) as $a
    | if $a != null then [$a]
      else (engine_runtime_dir + "/containerd/containerd.sock") as $user
      | if file_exists($user) then [$user] else [(daemon_setting("exec-root") // error("the rootless dockerd's exec-root is unknown")) + "/containerd/containerd.sock"] end
      end
  end;

# Paths of the regular files the collector found under a directory, by its `why` tag.
def files_tagged($why):
  [files_collected | to_entries[] | select(.value.exists == true and ((.value.why // []) | index([$why]) != null)) | .key];

# The systemd unit files in force for a unit: its fragment and drop-ins ([] when not installed).
def unit_files($unit):
  if $snap.daemon.units == null then error("systemd units were not collected (see meta.errors)")
  else ($snap.daemon.units[$unit] // {found: false}) as $u
  | if $u.found then [$u.fragment_path, (($u.dropins // [])[] | .path)] | map(select(. != null)) else [] end end;

# The API sockets to judge: unix:// hosts of the daemon; else, for Podman and a rootless dockerd,
# the sockets of their socket unit (fd://; %t is the runtime directory) or their default socket; else the system dockerd's
# default /var/run/docker.sock (or /run/docker.sock when /var/run/docker.sock is absent).
def daemon_api_sockets:
  [(daemon_setting("hosts") // [])[] | tostring] as $hosts
  | [$hosts[] | select(startswith("unix://")) | ltrimstr("unix://")] as $unix
  | if ($unix | length) > 0 then $unix
    elif is_system_dockerd then
      (if file_exists("/var/run/docker.sock") then ["/var/run/docker.sock"] else ["/run/docker.sock"] end)
    else
      (if is_rootless then engine_runtime_dir else "/run" end) as $t
      | [if any($hosts[]; startswith("fd://")) then socket_unit_listeners[] | sub("^%t"; $t) | select(startswith("/")) else empty end]
      | unique as $units
      | if ($units | length) > 0 then $units
        elif is_podman then [if is_rootless then engine_runtime_dir + "/podman/podman.sock" else "/run/podman/podman.sock" end]
        else [engine_runtime_dir + "/docker.sock"] end
    end;

# --- audit rules -------------------------------------------------------------------------------

def audit_collected:
  if $snap.audit == null or $snap.audit.watches == null then error("audit rules were not collected (see meta.errors)")
  else $snap.audit end;

# auditctl exists but could not list the loaded rules: a watch loaded only in the kernel is unknown.
def auditctl_unreadable: ($snap.audit.auditctl // {}) | .available == true and .raw == null;

# /usr is merged into / (/bin, /sbin, /lib link to usr/...): judged from those links where the
# collector recorded them, from binaries it found as regular files both under /bin and /usr/bin,
# or from a unit under /lib that is really under /usr/lib. Then /lib/x and /usr/lib/x are one file.
def merged_usr:
  ($snap.files // {}) as $f
  | any(("/bin", "/sbin", "/lib"); . as $d | ($f[$d] // {}) | .type == "symlink" and .realpath == "/usr" + $d)
  or any($f | keys[] | select(startswith("/bin/")); . as $k
      | ($f[$k].type == "file") and (($f["/usr" + $k] // {}).type == "file"))
    or any(($snap.daemon.units // {})[] | select(.fragment_path != null and .realpath != null);
           (.fragment_path | test("^/lib/")) and .realpath == "/usr" + .fragment_path);

def _usr_aliases:
  if merged_usr then
    (if test("^/(bin|sbin|lib|lib64)/") then ., "/usr" + . elif test("^/usr/(bin|sbin|lib|lib64)/") then ., ltrimstr("/usr") else . end)
  else . end;

# Every spelling of the paths: as given, symlink targets the collector resolved, /usr aliases.
def path_aliases($paths):
  [$paths[] | select(type == "string" and startswith("/")) | rtrimstr(" (deleted)")
   | ., (($snap.files // {})[.].realpath // empty)] | [.[] | _usr_aliases] | unique;

# A watch covers $p when it names $p or a directory above it (auditctl watches directories
# recursively) and audits writes (-p with w; no -p means rwxa).
def watch_covers($p):
  (.path | tostring | rtrimstr("/")) as $w
  | ($w == $p or ($w != "" and ($p | startswith($w + "/")))) and ((.permissions // "rwxa") | test("w"));

# Binaries the collector found for a name (e.g. "runc"), with their resolved paths.
def binary_paths($name):
  [files_collected | to_entries[]
   | select(.value.exists == true and ((.value.why // []) | any(. == "\($name) binary" or . == "\($name) binary (resolved)")))
   | .key, (.value.realpath // empty)];

# The paths that name an object the benchmark wants audited. Fixed paths must have been examined
# by the collector (file() errors otherwise); binaries are found by the collector's search.
# Objects: "dockerd" (the engine's executable: dockerd, or Podman's podman), "docker-root" (its
# data root), "containerd.sock" and "containerd-state" (the containerd it uses), "daemon.json"
# (its configuration file in force), "runc" (its OCI runtime), a unit (docker.service,
# podman.socket...), an absolute path, or a binary's name. Only the system's dockerd adds the
# paths the benchmark spells out (/var/lib/docker, /etc/docker/daemon.json, /run/containerd):
# for another engine they are another engine's.
def audit_object_paths($object):
  if $object == "dockerd" then
    if is_podman then [($snap.daemon.process.exe // empty | rtrimstr(" (deleted)"))] + binary_paths("podman")
    else ["/usr/bin/dockerd", ($snap.daemon.process.exe // empty | rtrimstr(" (deleted)"))] + binary_paths("dockerd") end
  elif $object == "docker-root" then
    (if is_system_dockerd then ["/var/lib/docker"] else [] end)
    + [($snap.engine.info.DockerRootDir // empty), ($snap.host.docker_root.path // empty)]
  elif $object == "containerd.sock" then
    if is_system_dockerd then ["/run/containerd/containerd.sock"] + [containerd_address | select(. != null)]
    else engine_containerd_sockets end
  elif $object == "containerd-state" then
    if is_system_dockerd then ["/run/containerd"] else [engine_containerd_sockets[] | _dirname] end
  elif $object == "daemon.json" then
    if is_system_dockerd then ["/etc/docker/daemon.json", ($snap.daemon.config_file.path // empty)]
    else [engine_config_file] end
  elif $object == "runc" and is_podman and ($snap.engine.libpod_info.host.ociRuntime.path // null) != null then
    $snap.engine.libpod_info.host.ociRuntime.path as $rt
    | [$rt] + binary_paths($rt | split("/") | last)
  elif ($object | test("^(docker|podman)\\.(service|socket)$")) then unit_files($object)[:1]
  elif $object | startswith("/") then [$object]
  else ["/usr/bin/" + $object] + binary_paths($object) end;

# Which of those paths exist on the host. A path the collector should have examined but did not
# is an error; a binary path it did not record was searched for and is absent.
def audit_object_existing($object):
  audit_object_paths($object) as $paths
  | files_collected as $files
  | [$paths[] | . as $p
     | if ($files | has($p)) then (select($files[$p].exists == true))
       elif ($p | test("^(/usr(/local)?)?/s?bin/[^/]+$|^/usr/libexec/docker/[^/]+$")) then empty
       else error("\($p) was not examined by the collector") end]
  | reduce .[] as $x ([]; if index([$x]) != null then . else . + [$x] end);

def audit_object_exists($object): (audit_object_existing($object) | length) > 0;

# Further spellings of an object that need no files entry: a unit's fragment with every symlink
# (of its directories too) resolved, as the collector records it in daemon.units[u].realpath.
def audit_object_aliases($object):
  if ($object | test("^(docker|podman)\\.(service|socket)$")) then
    [($snap.daemon.units[$object] // {}) | select(.found == true) | .realpath // empty]
  else [] end;

# The audited object as one resource: data = {object, paths (every accepted spelling), existing,
# watches (the rules covering any of them), auditctl}.
def audit_object($object):
  audit_object_existing($object) as $existing
  | path_aliases(audit_object_paths($object) + audit_object_aliases($object)) as $paths
  | audit_collected as $audit
  | ($existing[0] // $object) as $name
  | {type: "file", name: $name, id: $name,
     path: "/files/\($name | gsub("~"; "~0") | gsub("/"; "~1"))",
     data: {object: $object, paths: $paths, existing: $existing,
            watches: [$audit.watches[] | select(. as $w | any($paths[]; . as $p | $w | watch_covers($p)))],
            auditctl: $audit.auditctl}};

# Assert for an audit object: some watch covers it; an error when nothing was found but the loaded
# rules could not be listed.
def audit_watched:
  [($snap.meta.errors // [])[] | select(.source == "/audit" or .source == "/audit/watches" or (.source | startswith("/audit/rules_files")))
   | .reason] as $unread
  | if (.watches | length) > 0 then true
    elif auditctl_unreadable then error("auditctl -l failed (\($snap.audit.auditctl.error // "no output")) and no rules file watches \(.existing[0] // .object): the loaded rules are unknown")
    elif ($unread | length) > 0 then error("no watch found, but some audit rules could not be read: \($unread | join("; "))")
    else false end;

def audit_message:
  "no audit rule watches \(.existing | join(", ")) for writes (accepted paths: \(.paths | join(", ")))";

# --- the Docker root partition -------------------------------------------------------------------

# The mount holding a path: the longest mount point that is the path or one of its parents.
def _mount_holding($p):
  [($snap.host.mounts // error("host mounts were not collected"))[]
   | .mount_point as $mp | select($mp == "/" or $p == $mp or ($p | startswith($mp + "/")))]
  | max_by(.mount_point | length);

# Is Docker's root on its own filesystem? Device ids, not mount points: a bind mount of the root
# filesystem is a mount point but no partition. With user namespace remapping, DockerRootDir is a
# uid.gid subdirectory of the real root, so the root's parent directory is judged, from the mount table.
def docker_root_separate:
  ($snap.host.docker_root // error("host.docker_root was not collected")) as $r
  | if ($r.exists != true) then error("the Docker root \($r.path) does not exist on the host")
    elif ($r.path | test("/[0-9]+\\.[0-9]+/?$")) and (engine_security_option("userns") != null or (daemon_setting("userns-remap") // "") != "") then
      ($r.path | rtrimstr("/") | _dirname) as $root
      | _mount_holding($root) as $m
      | if $m.mount_point != $root or $root == "/" then false
        else _mount_holding($root | _dirname) as $parent | $m.device != $parent.device end
    else $r.separate_filesystem end;

# --- registries ----------------------------------------------------------------------------------

# Insecure registries: configured (--insecure-registry, "insecure-registries") and as the running
# engine reports them (RegistryConfig), leaving out its built-in loopback entries.
def insecure_registries:
  ([(daemon_setting("insecure-registries") // [])[] | tostring]
   + [(engine_info.RegistryConfig.InsecureRegistryCIDRs // [])[] | select(. != "127.0.0.0/8" and . != "::1/128")]
   + [(engine_info.RegistryConfig.IndexConfigs // {}) | to_entries[] | select(.value.Secure == false) | .key])
  | unique;
