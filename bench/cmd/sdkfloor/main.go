// Command sdkfloor links the AWS SDK packages loadgate's AWS runner links
// (config for credentials, the ECS and S3 clients) and does nothing else:
// bench/startup.sh times it beside `loadgate version` to show how much of
// loadgate's start-up is the SDK's package initialisation, which Go runs in
// every command of a binary that links it.
package main

import (
	"fmt"

	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/ecs"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() { fmt.Println("sdkfloor") }
