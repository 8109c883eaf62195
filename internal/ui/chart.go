package ui

import (
	"fmt"
	"strings"

	"github.com/herald-dev/herald/internal/store"
)

// chart is the geometry of the endpoint detail's two inline SVG panels,
// computed here so the template only places shapes: attempts per bucket
// (succeeded and failed stacked, so the success rate reads as the green
// share) and p50 / p99 latency lines.
type chart struct {
	Width, Height     int // of each panel
	Left, Top, Bottom int // plot area margins
	PlotW, PlotH      int
	Bars              []chartBar
	P50, P99          string // polyline points
	Dots              []chartDot
	MaxAttempts       int
	MaxLatency        int64
	Labels            []chartLabel
	Empty             bool
}

type chartBar struct {
	X, W         float64
	OkY, OkH     float64
	FailY, FailH float64
	Title        string
}

type chartDot struct {
	X, Y  float64
	Title string
}

type chartLabel struct {
	X    float64
	Text string
}

func newChart(buckets []store.StatsBucket) *chart {
	c := &chart{Width: 720, Height: 150, Left: 48, Top: 10, Bottom: 22}
	c.PlotW = c.Width - c.Left - 10
	c.PlotH = c.Height - c.Top - c.Bottom
	n := len(buckets)
	total := 0
	for _, b := range buckets {
		total += b.Attempts
		c.MaxAttempts = max(c.MaxAttempts, b.Attempts)
		c.MaxLatency = max(c.MaxLatency, b.LatencyP99, b.LatencyP50)
	}
	if n == 0 || total == 0 {
		c.Empty = true
		return c
	}
	c.MaxAttempts = niceCeil(c.MaxAttempts)
	c.MaxLatency = int64(niceCeil(int(c.MaxLatency)))
	slot := float64(c.PlotW) / float64(n)
	base := float64(c.Top + c.PlotH)
	var p50, p99 []string
	for i, b := range buckets {
		x := float64(c.Left) + float64(i)*slot
		okH := float64(b.Succeeded) / float64(c.MaxAttempts) * float64(c.PlotH)
		failH := float64(b.Attempts-b.Succeeded) / float64(c.MaxAttempts) * float64(c.PlotH)
		rate := "–"
		if b.Attempts > 0 {
			rate = fmt.Sprintf("%.0f%%", float64(b.Succeeded)/float64(b.Attempts)*100)
		}
		c.Bars = append(c.Bars, chartBar{
			X: x + slot*0.1, W: slot * 0.8,
			OkY: base - okH, OkH: okH, FailY: base - okH - failH, FailH: failH,
			Title: fmt.Sprintf("%s UTC: %d attempts, %d succeeded (%s)", b.Start.UTC().Format("15:04"), b.Attempts, b.Succeeded, rate),
		})
		cx := x + slot/2
		if b.Attempts > 0 {
			y50 := base - float64(b.LatencyP50)/float64(c.MaxLatency)*float64(c.PlotH)
			y99 := base - float64(b.LatencyP99)/float64(c.MaxLatency)*float64(c.PlotH)
			p50 = append(p50, fmt.Sprintf("%.1f,%.1f", cx, y50))
			p99 = append(p99, fmt.Sprintf("%.1f,%.1f", cx, y99))
			c.Dots = append(c.Dots, chartDot{X: cx, Y: y99,
				Title: fmt.Sprintf("%s UTC: p50 %d ms, p99 %d ms", b.Start.UTC().Format("15:04"), b.LatencyP50, b.LatencyP99)})
		}
		if i%4 == 0 {
			c.Labels = append(c.Labels, chartLabel{X: cx, Text: b.Start.UTC().Format("15:04")})
		}
	}
	c.P50, c.P99 = strings.Join(p50, " "), strings.Join(p99, " ")
	return c
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten, for axis maxima.
func niceCeil(v int) int {
	if v <= 1 {
		return 1
	}
	p := 1
	for p*10 < v {
		p *= 10
	}
	for _, m := range []int{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
