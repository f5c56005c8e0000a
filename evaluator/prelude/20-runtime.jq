# Helpers for the image, runtime, operations and swarm policies (CIS sections 4-7).

# --- containers (section 5) --------------------------------------------------------------------

# Users that mean root: "", "0", "root", "0:0", "root:root", "root:<group>", "0:<group>".
# ("" | split(":") is [], so the missing first part counts as "".)
def user_is_root: ((. // "") | tostring | split(":") | (.[0] // "")) as $u | $u == "" or $u == "0" or $u == "root";

# A container resource's name, for messages.
def cname: .inspect.Name | ltrimstr("/");

# Docker's default capability set (moby oci/caps defaults), without the CAP_ prefix.
def default_caps:
  ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
   "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"];

# The engine's own default set: Podman's comes from containers.conf (default_capabilities), and
# is smaller than dockerd's. Podman's compat inspect states CapAdd/CapDrop against dockerd's
# defaults, so effective_caps below is right for both engines. A snapshot that does not hold the
# daemon's settings (a plan) judges the container against dockerd's defaults.
def engine_default_caps:
  if is_podman and holds("daemon") then
    (($snap.daemon.options // {})["default-capabilities"].value
     // error("Podman's default capabilities were not collected (see meta.errors)")) | map(cap_name)
  else default_caps end;

# The capabilities a container really runs with, computed as the engine does (moby
# TweakCapabilities): privileged or CapAdd ALL give every capability but the dropped ones; CapDrop
# ALL keeps only what CapAdd names; otherwise the defaults minus CapDrop plus CapAdd.
# {all: true, except: [...]} or {all: false, caps: [...]}, names upper-case without CAP_.
def effective_caps:
  added_caps as $add | dropped_caps as $drop
  | if .inspect.HostConfig.Privileged == true then {all: true, except: []}
    elif ($add | index("ALL")) != null then {all: true, except: ($drop - ["ALL"])}
    elif ($drop | index("ALL")) != null then {all: false, caps: ($add | unique)}
    else {all: false, caps: ((default_caps - $drop) + $add | unique)} end;

# True when the container effectively holds capability $c (any case, with or without CAP_).
def has_effective_cap($c):
  ($c | cap_name) as $want | effective_caps
  | if .all then (.except | index($want)) == null else (.caps | index($want)) != null end;

# Capabilities beyond Docker's default set, for messages ("ALL" when unrestricted).
def caps_beyond_default:
  effective_caps
  | if .all then ["ALL" + (if (.except | length) > 0 then " except " + (.except | join(",")) else "" end)]
    else .caps - engine_default_caps end;

# --- namespaces (5.10, 5.16, 5.17, 5.21, 5.31) --------------------------------------------------

# What the kernel says of a container's namespace $ns (ipc, pid, net, uts, user, cgroup), where
# the collector ran on the engine's host and read /proc/<State.Pid>/ns (see namespaces in the
# snapshot schema): true (the host's), false (not the host's), or null (not read).
def kernel_shares_host_namespace($ns):
  ((.namespaces // {})[$ns] // {}).shared_with_host | if type == "boolean" then . else null end;

# Whether the container shares the host's namespace $ns: the kernel's answer where it was read,
# else what the engine reports (`reported`, a boolean over the container). Engines misreport:
# Podman 4.3 says IpcMode "shareable" for --ipc host; --network container:X of a container X on
# the host's network is reported "container:X".
def shares_host_namespace($ns; reported):
  kernel_shares_host_namespace($ns) as $k | if $k == null then reported else $k end;

# Whether the engine maps container users away from the host's (5.31): a rootless engine, or a
# daemon with userns-remap. Without it every container is in the host's user namespace by
# default, which is 2.9's finding, not each container's; a plan (no daemon held) cannot tell: false.
def engine_remaps_users:
  is_rootless or (holds("daemon") and ((daemon_setting("userns-remap") // "") != ""));

# Why the verdict on namespace $ns is what it is, for messages: the kernel's links when read, the
# engine's HostConfig field ($field, e.g. "IpcMode") either way.
def namespace_basis($ns; $field):
  kernel_shares_host_namespace($ns) as $k
  | (.inspect.HostConfig[$field] // "") as $r
  | if $k == null then "\($field)=\($r)"
    else "the kernel: /proc/\(.namespaces.process)/ns/\($ns) is \(.namespaces[$ns].container), "
         + (if $k then "the host's" else "not the host's \(.namespaces[$ns].host)" end)
         + " (\(.namespaces.reference)'s); the engine reports \($field)=\($r | tojson)" end;

# Published ports as the engine bound them (NetworkSettings.Ports): an empty HostPort is 0.
def port_bindings:
  [(.inspect.NetworkSettings.Ports // {}) | to_entries[] | .key as $port | (.value // [])[]
   | {container_port: $port, host_ip: (.HostIp // ""),
      host_port: ((.HostPort // "") | if . == "" then 0 else tonumber end)}];

# "ip:port->container_port" for messages; IPv6 addresses in brackets.
def binding_text:
  (if (.host_ip | contains(":")) then "[\(.host_ip)]" elif .host_ip == "" then "*" else .host_ip end)
  + ":\(.host_port)->\(.container_port)";

# Command lines of a container's processes (the CMD/COMMAND column of /top). A running
# container whose list was not collected is an error, never a pass.
def process_commands:
  if .processes == null then error("the process list of this container was not collected")
  else (.processes.Titles // []) as $t
    | ((($t | index("CMD")) // ($t | index("COMMAND"))) // (($t | length) - 1)) as $i
    | [(.processes.Processes // [])[] | (.[$i] // "") | tostring] end;

# An SSH server process: sshd (and its per-session children) or dropbear.
def is_ssh_server: test("^(\\S*/)?(sshd(-session|-auth)?|dropbear)(:|\\s|$)");

# A path without trailing slashes ("/" stays "/").
def norm_path: if . == "/" then . else sub("/+$"; "") end;

# Host directories CIS 5.6 names as sensitive.
def sensitive_host_dirs: ["/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr"];

# Bind mounts of sensitive host paths: the directory itself in any mode, or anything below one of
# them (except below "/", which is everything) when writable. Judged on the host Source.
def sensitive_mounts:
  [mounts[] | select(.Type == "bind") | ((.Source // "") | norm_path) as $src
   | select(any(sensitive_host_dirs[]; . == $src)
            or (.RW == true and any(sensitive_host_dirs[] | select(. != "/"); . as $d | $src | startswith($d + "/"))))
   | {source: $src, destination: .Destination, rw: (.RW == true)}];

# The value of a security option such as "no-new-privileges" / "seccomp" (either "k=v" or "k:v");
# "" when given without a value, null when absent.
def security_opt($key):
  [security_opts[] | select(. == $key or startswith($key + "=") or startswith($key + ":"))
   | if . == $key then "" else .[($key | length) + 1:] end] | last;

# no-new-privileges as the engine applies it: the container's own option wins, else the daemon's
# (when the snapshot holds the daemon: a plan credits the container's own option only).
# A value is read as dockerd reads it (Go's strconv.ParseBool: "1", "t", "TRUE", ... are true).
def no_new_privileges:
  security_opt("no-new-privileges") as $v
  | if $v == null then holds("daemon") and ($snap.daemon.options["no-new-privileges"].value == true)
    else (["", "1", "t", "T", "true", "TRUE", "True"] | index([$v])) != null end;

# The restart policy is acceptable: no, or on-failure with at most 5 retries.
def restart_policy_ok:
  (.inspect.HostConfig.RestartPolicy // {}) as $r
  | (($r.Name // "") | if . == "" then "no" else . end) as $n
  | $n == "no" or ($n == "on-failure" and ($r.MaximumRetryCount // 0) <= 5);

# "always", "unless-stopped", "on-failure:10", for messages.
def restart_policy_text:
  (.inspect.HostConfig.RestartPolicy // {}) as $r
  | (($r.Name // "") | if . == "" then "no" else . end)
    + (if $r.Name == "on-failure" then ":\($r.MaximumRetryCount // 0)" else "" end);

# Ids of the default bridge network (docker0).
def default_bridge_ids:
  [($snap.networks // [])[] | select((.Options // {})["com.docker.network.bridge.default_bridge"] == "true"
                                      or (.Options // {})["com.docker.network.bridge.name"] == "docker0") | .Id];

# --- images (sections 4 and 6) -----------------------------------------------------------------

# Ids of the images containers (running or stopped) were created from.
def images_used: [($snap.containers // [])[] | .inspect.Image // empty] | unique;

# Whether the image with this id is in use: a container (running or stopped) was created from it,
# or from an image built on it (removing a parent would not free anything). Asked once per image,
# so it scans and stops at the first match instead of building the set of images in use (which
# sorted every container's image for each image: 4.4 s of 16 at 5,000 containers and 303 images).
def image_in_use($id):
  any(($snap.containers // [])[]; .inspect.Image == $id)
  or any(($snap.images // [])[] | select(.inspect.Parent == $id) | .inspect.Id; image_in_use(.));

# What `docker images` lists: tagged or digested images, images in use, and the top layer of any
# chain. Intermediate build layers (untagged parents of other images) are left out, and so are the
# other stages of a planned Dockerfile build (planned.target false): only the target becomes an image.
def top_level_images:
  ([($snap.images // [])[] | .inspect.Parent // empty | select(. != "")] | unique) as $parents
  | images_used as $used
  | images
  | select(.data.planned.target != false)
  | select(((.data.inspect.RepoTags // []) | length) > 0 or ((.data.inspect.RepoDigests // []) | length) > 0
           or (.id as $id | $used | index($id)) != null or (.id as $id | $parents | index($id)) == null);

# What the recommendations about the build file itself judge (4.7, 4.9): the top-level images and,
# for a planned Dockerfile build, every other stage the build runs.
def built_images: top_level_images, (images | select(.data.planned.target == false));

# The images planned from a Dockerfile that become an image (collect --dockerfile, Compose build:).
def planned_images: images | select(.data.planned.target == true);

# The containers a plan starts from the image with this id (Compose services built from a
# Dockerfile); [] on a live host, whose containers are judged as they run.
def planned_containers_of($id): [($snap.containers // [])[] | select(.planned != null and .inspect.Image == $id)];

# How messages name an image: the planned name (the Dockerfile, its stage), else its first tag, else its id.
def image_name: .planned.name // (.inspect.RepoTags // [])[0] // .inspect.Id;

# An image's build steps (untruncated CreatedBy), newest first; an error when not collected.
def build_steps:
  if .history == null then error("the image history was not collected") else [.history[] | .CreatedBy // ""] end;

# The build steps an image's own Dockerfile wrote, newest first: for a planned image the steps of
# its Dockerfile (planned.steps), not its base image's; for an engine's image every step but the
# oldest (the base image's root filesystem, added by its publisher).
def own_build_steps:
  build_steps as $s | if .planned.steps != null then $s[: .planned.steps] else $s[:-1] end;

# A part of a planned image only its unread base image knows (planned.unknown): an error with the
# reason, so the policy reports error for it, never pass; otherwise the input unchanged.
def planned_known($ptr): ((.planned.unknown // {})[$ptr] // null) as $why | if $why == null then . else error($why) end;

# --- time --------------------------------------------------------------------------------------

# RFC 3339 UTC timestamp (with or without fractional seconds) to epoch seconds; null for Go's zero
# time. Another offset is an error (the engine always writes UTC).
def iso_epoch:
  if . == null or startswith("0001-01-01") then null
  else sub("\\.[0-9]+"; "") | fromdateiso8601 end;

# When the collector finished, as epoch seconds: the "now" of every time-based policy.
def collected_epoch: $snap.meta.finished_at | iso_epoch;

# --- swarm (section 7) -------------------------------------------------------------------------

def swarm_active: ($snap.swarm.state // "") == "active";
def swarm_manager: swarm_active and $snap.swarm.is_manager == true;

# The swarm as one resource: `data` is the swarm section.
def swarm_cluster:
  if $snap.swarm == null then error("swarm state was not collected (see meta.errors)") else
  {type: "swarm", name: ($snap.swarm.inspect.ID // $snap.meta.hostname), id: ($snap.swarm.inspect.ID // $snap.meta.hostname),
   path: "/swarm", data: $snap.swarm} end;

# Paths where an engine's API socket lives: dockerd's and Podman's defaults plus the daemon's
# unix:// hosts. A container given any engine's socket controls that engine (and so the host).
def docker_socket_paths:
  ["/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock", "/var/run/podman/podman.sock"]
  + [($snap.daemon.options.hosts.value // [])[] | strings | select(startswith("unix://")) | ltrimstr("unix://")]
  | unique;

# Mount sources through which a container reaches the Docker socket: the socket itself (any
# path ending in docker.sock) or a directory above one of the socket paths.
def docker_socket_mounts:
  docker_socket_paths as $socks
  | [mounts[] | ((.Source // "") | norm_path) as $src | select($src != "")
     | select(($src | endswith("/docker.sock")) or ($src | endswith("/podman.sock"))
              or any($socks[]; . == $src or startswith(if $src == "/" then "/" else $src + "/" end)))
     | $src] | unique;
