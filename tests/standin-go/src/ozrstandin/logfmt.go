package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	log "github.com/sirupsen/logrus"
)

// Timestamp layouts: RFC3339 (NetBird up to v0.65.2, logrus's default) and the millisecond layout NetBird
// uses from v0.65.3.
const (
	layoutSeconds = "2006-01-02T15:04:05Z07:00"
	layoutMillis  = "2006-01-02T15:04:05.000Z07:00"
)

// sourceKey carries the "file:line" a real NetBird line names. NetBird derives it from the caller; the
// stand-in's callers are elsewhere, so each call names the place the real server logs from.
type sourceKey struct{}

func withSource(l *log.Logger, source string) *log.Entry {
	return l.WithContext(context.WithValue(context.Background(), sourceKey{}, source))
}

// netbirdFormatter prints NetBird's own line shape:
//
//	<time> <LEVL> [key: value, ...] <source>: <message>
//
// with four-letter levels. The fields part is left out when there are none; its keys are sorted here
// (NetBird's order is Go's map order, i.e. random).
type netbirdFormatter struct {
	layout string
}

var netbirdLevels = map[log.Level]string{
	log.PanicLevel: "PANC",
	log.FatalLevel: "FATL",
	log.ErrorLevel: "ERRO",
	log.WarnLevel:  "WARN",
	log.InfoLevel:  "INFO",
	log.DebugLevel: "DEBG",
	log.TraceLevel: "TRAC",
}

func (f *netbirdFormatter) Format(e *log.Entry) ([]byte, error) {
	var b strings.Builder
	b.WriteString(e.Time.Format(f.layout))
	b.WriteByte(' ')
	lvl, ok := netbirdLevels[e.Level]
	if !ok {
		lvl = strings.ToUpper(e.Level.String())
	}
	b.WriteString(lvl)
	b.WriteByte(' ')
	if len(e.Data) > 0 {
		keys := make([]string, 0, len(e.Data))
		for k := range e.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('[')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s: %v", k, e.Data[k])
		}
		b.WriteString("] ")
	}
	source := ""
	if e.Context != nil {
		source, _ = e.Context.Value(sourceKey{}).(string)
	}
	b.WriteString(source)
	b.WriteString(": ")
	b.WriteString(e.Message)
	b.WriteByte('\n')
	return []byte(b.String()), nil
}

// formatter returns the logrus formatter for STANDIN_FORMAT: "text" is logrus's TextFormatter (full
// timestamps, no colours), "json" logrus's JSONFormatter, "netbird" NetBird's line format.
func formatter(name string, millis bool) (log.Formatter, error) {
	layout := layoutSeconds
	if millis {
		layout = layoutMillis
	}
	switch name {
	case "text":
		return &log.TextFormatter{FullTimestamp: true, DisableColors: true, TimestampFormat: layout}, nil
	case "json":
		return &log.JSONFormatter{TimestampFormat: layout}, nil
	case "netbird":
		return &netbirdFormatter{layout: layout}, nil
	}
	return nil, fmt.Errorf("unknown STANDIN_FORMAT %q (text, json or netbird)", name)
}
