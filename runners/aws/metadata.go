package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// TaskID asks the ECS task metadata endpoint (version 4; its base URL is in the
// container's ECS_CONTAINER_METADATA_URI_V4) for this task's ARN and returns
// the task ID (the ARN's last path element). Workers use it to find their index.
func TaskID(ctx context.Context, metadataURI string) (string, error) {
	if metadataURI == "" {
		return "", fmt.Errorf("task metadata: ECS_CONTAINER_METADATA_URI_V4 is not set (not running as an ECS task?); pass --index")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(metadataURI, "/")+"/task", nil)
	if err != nil {
		return "", fmt.Errorf("task metadata: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("task metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("task metadata: %s", resp.Status)
	}
	var m struct {
		TaskARN string `json:"TaskARN"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return "", fmt.Errorf("task metadata: %w", err)
	}
	if m.TaskARN == "" {
		return "", fmt.Errorf("task metadata: no TaskARN")
	}
	return taskIDOf(m.TaskARN), nil
}

// taskIDOf returns the last path element of a task ARN
// (arn:aws:ecs:region:acct:task/cluster/ID).
func taskIDOf(arn string) string {
	return arn[strings.LastIndex(arn, "/")+1:]
}
