// Command hello is the floor of any Go command on the machine:
// bench/startup.sh times it beside `loadgate version`.
package main

import "fmt"

func main() { fmt.Println("hello") }
