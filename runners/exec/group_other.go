//go:build !unix

package exec

import osexec "os/exec"

// Without process groups only the command itself can be stopped.
func setGroup(*osexec.Cmd) {}

func terminate(cmd *osexec.Cmd) { kill(cmd) }

func kill(cmd *osexec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
