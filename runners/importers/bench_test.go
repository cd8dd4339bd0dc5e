package importers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Streaming throughput on generated inputs (~16 MB, 60 s of traffic over 5
// endpoints). Peak memory does not depend on the input size; the figures for a
// 1 GB file are in docs/importers.md. Run: go test ./runners/importers -bench . -run ^$

func benchFile(b *testing.B, name string, header string, line func(i int) string, size int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), name)
	var sb strings.Builder
	sb.WriteString(header)
	for i := 0; sb.Len() < size; i++ {
		sb.WriteString(line(i))
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

var benchLabels = []string{"GET /fast", "GET /slow", "POST /orders", "GET /users", "GET /search"}

func benchImport(b *testing.B, format, path string) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Import(context.Background(), format, []string{path}, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJMeterCSV(b *testing.B) {
	path := benchFile(b, "r.jtl", "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n",
		func(i int) string {
			return fmt.Sprintf("%d,%d,%s,200,OK,users 1-1,text,true,,%d,112,50,50,http://127.0.0.1:8080/x,%d,0,0\n",
				1795652827000+int64(i)/2000, 1+i%97, benchLabels[i%5], 100+i%900, 1+i%97)
		}, 16<<20)
	benchImport(b, FormatJMeterCSV, path)
}

func BenchmarkK6JSON(b *testing.B) {
	metrics := []string{"http_reqs", "http_req_duration", "http_req_blocked", "http_req_connecting", "http_req_tls_handshaking",
		"http_req_sending", "http_req_waiting", "http_req_receiving", "http_req_failed"}
	path := benchFile(b, "out.json", "", func(i int) string {
		var sb strings.Builder
		tm := fmt.Sprintf("2026-11-26T01:%02d:%02d.%06d+00:00", (i/60000)%60, (i/1000)%60, i%1000*1000)
		for _, m := range metrics {
			fmt.Fprintf(&sb, `{"metric":"%s","type":"Point","data":{"time":"%s","value":%d.25,"tags":{"expected_response":"true","group":"","method":"GET","name":"%s","proto":"HTTP/1.1","scenario":"default","status":"200","url":"http://127.0.0.1/x"}}}`+"\n",
				m, tm, 1+i%97, benchLabels[i%5])
		}
		return sb.String()
	}, 16<<20)
	benchImport(b, FormatK6JSON, path)
}

func BenchmarkVegetaGob(b *testing.B) {
	benchImport(b, FormatVegetaGob, peer("vegeta-12.13.0/regen/results.bin"))
}

func BenchmarkJMeterXML(b *testing.B) {
	path := benchFile(b, "r.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testResults version=\"1.2\">\n", func(i int) string {
		return fmt.Sprintf(`<httpSample t="%d" lt="%d" ts="%d" s="true" lb="%s" rc="200" rm="OK" tn="users 1-1" dt="text" by="119" ng="1" na="1"/>`+"\n",
			1+i%97, 1+i%97, 1795652827000+int64(i)/2000, benchLabels[i%5])
	}, 8<<20)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	f.WriteString("</testResults>\n")
	f.Close()
	benchImport(b, FormatJMeterXML, path)
}
