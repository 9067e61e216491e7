package pool

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
)

// CloudInitConfig configures the boot script of cloud VMs.
type CloudInitConfig struct {
	// Server is the control plane URL the VMs can reach.
	Server string
	// Cloud tells the agent which metadata service names its instance (aws, gcp, azure,
	// openstack).
	Cloud string
	// AgentPort is where the agent serves the control plane's calls (default 7070), on all
	// interfaces, advertised at the VM's address towards the control plane.
	AgentPort int
	// Listen, when set, replaces that: the agent listens there and advertises its listener
	// (e.g. "127.0.0.1:0" for instances of the local cloud booted the cloud way).
	Listen string
	// Sandbox, when set, is the agent's --sandbox (default: the agent's own, auto).
	Sandbox string
	// Home is the agent's directory (default /var/lib/algos-agent; relative paths are relative
	// to the boot script's working directory).
	Home string
}

// bootScript is the user data of a cloud VM: cloud-init runs it once as root at first boot. It
// installs the algos binary served by the control plane, keeps the join token in a root-only
// environment file, and runs the agent under systemd (restarted on failure) or, without
// systemd, in the foreground of cloud-init.
var bootScript = template.Must(template.New("boot").Parse(`#!/bin/sh
# algos node bootstrap for pool {{.Pool}} ({{.Cloud}}): installs and starts algos agent.
set -eu
ALGOS_SERVER={{.Server}}
ALGOS_HOME={{.Home}}
mkdir -p "$ALGOS_HOME"
ALGOS_HOME=$(cd "$ALGOS_HOME" && pwd)
chmod 0700 "$ALGOS_HOME"
case "$(uname -m)" in
  x86_64|amd64) arch=amd64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "algos: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
bin="$ALGOS_HOME/algos"
if [ ! -x "$bin" ]; then
  url="$ALGOS_SERVER/v1/agent/download?os=linux&arch=$arch"
  i=0
  until curl -fsSL --retry 5 -o "$bin.tmp" "$url" 2>/dev/null || wget -q -O "$bin.tmp" "$url"; do
    i=$((i+1)); [ "$i" -ge 30 ] && { echo "algos: cannot download the agent from $url" >&2; exit 1; }
    sleep 10
  done
  chmod 0755 "$bin.tmp" && mv "$bin.tmp" "$bin"
fi
umask 077
cat > "$ALGOS_HOME/agent.env" <<'ALGOS_ENV'
ALGOS_JOIN_TOKEN={{.Token}}
ALGOS_ENV
set -- agent --server "$ALGOS_SERVER" --data-dir "$ALGOS_HOME/data" --cloud {{.Cloud}} {{.ListenFlags}}
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  cat > /etc/systemd/system/algos-agent.service <<ALGOS_UNIT
[Unit]
Description=algos node agent
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=$ALGOS_HOME/agent.env
ExecStart=$bin $*
Restart=always
RestartSec=2
KillMode=control-group

[Install]
WantedBy=multi-user.target
ALGOS_UNIT
  systemctl daemon-reload
  systemctl enable --now algos-agent.service
else
  set -a; . "$ALGOS_HOME/agent.env"; set +a
  exec "$bin" "$@"
fi
`))

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// CloudInit returns the UserDataFunc of VM pools: a boot script that downloads the agent from
// the control plane and starts it with the pool's join token.
func CloudInit(c CloudInitConfig) UserDataFunc {
	if c.AgentPort == 0 {
		c.AgentPort = 7070
	}
	if c.Home == "" {
		c.Home = "/var/lib/algos-agent"
	}
	listen := fmt.Sprintf("--listen 0.0.0.0:%d --advertise-port %d", c.AgentPort, c.AgentPort)
	if c.Listen != "" {
		listen = "--listen " + shellQuote(c.Listen)
	}
	if c.Sandbox != "" {
		listen += " --sandbox " + shellQuote(c.Sandbox)
	}
	return func(poolName, _, token string) (string, error) {
		if c.Server == "" {
			return "", fmt.Errorf("%w: the control plane has no URL that VMs can reach: start it with --advertise-url", ErrInvalid)
		}
		if strings.ContainsAny(token, "'\n") || strings.ContainsAny(c.Cloud, " '\n") {
			return "", fmt.Errorf("%w: unexpected characters in the join token or cloud", ErrInvalid)
		}
		var b bytes.Buffer
		err := bootScript.Execute(&b, map[string]any{
			"Pool": poolName, "Cloud": c.Cloud, "Server": shellQuote(c.Server), "Token": token,
			"ListenFlags": listen, "Home": shellQuote(c.Home),
		})
		return b.String(), err
	}
}
