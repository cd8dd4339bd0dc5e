package report

import "testing"

// An interval's upper end beyond +1000 % is printed as what it is.
func TestCIHighAbsurdWidth(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0.123: "+12.3", 9.99: "+999.0", 10.5: "> +1000", 4000: "> +1000", -0.2: "-20.0"} {
		if got := ciHigh(in); got != want {
			t.Errorf("ciHigh(%g) = %q, want %q", in, got, want)
		}
	}
}
