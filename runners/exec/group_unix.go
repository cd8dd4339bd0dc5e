//go:build unix

package exec

import (
	osexec "os/exec"
	"syscall"
)

// setGroup puts the command in its own process group so that a timeout stops
// the tool's children too (JMeter's JVM, Locust's workers).
func setGroup(cmd *osexec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func terminate(cmd *osexec.Cmd) { signalGroup(cmd, syscall.SIGTERM) }

func kill(cmd *osexec.Cmd) { signalGroup(cmd, syscall.SIGKILL) }

func signalGroup(cmd *osexec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil || cmd.Process.Pid <= 0 {
		return
	}
	// Negative pid: the process group the command leads (Setpgid above).
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
