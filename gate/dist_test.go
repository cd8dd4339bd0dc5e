package gate

import (
	"math"
	"testing"
)

// Reference values: Student's t and normal tables (e.g. t₀.₉₇₅,₁₀ = 2.228139),
// to the digits given there and beyond (R's pt/qt/pnorm).
func TestDistributionFunctions(t *testing.T) {
	t.Parallel()
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %.15g, want %.15g", what, got, want)
		}
	}
	for _, c := range []struct{ t, nu, want float64 }{
		{2, 5, 0.949030260585071},
		{-1.5, 3, 0.115291932622411},
		{0.3, 1, 0.592773579077743},
		{3.1, 40, 0.998231545794979},
		{-4, 2.5, 0.0195064879206591},
		{0, 7, 0.5},
		{math.Inf(1), 3, 1},
		{math.Inf(-1), 3, 0},
	} {
		near("studentTCDF", studentTCDF(c.t, c.nu), c.want, 1e-12)
	}
	for _, c := range []struct{ p, nu, want float64 }{
		{0.975, 1, 12.7062047361747},
		{0.975, 10, 2.22813885198627},
		{0.95, 30, 1.69726088659396},
		{0.995, 5, 4.03214298355523},
		{0.025, 7, -2.36462425159278},
		{0.9995, 2, 31.5990545764454},
		{0.975, 100000, 1.95998770750096},
		{0.5, 3, 0},
	} {
		near("studentTQuantile", studentTQuantile(c.p, c.nu), c.want, 1e-10)
	}
	for _, c := range []struct{ x, want float64 }{
		{-1.96, 0.0249978951482204},
		{0, 0.5},
		{1, 0.841344746068543},
		{2.5758293035489, 0.995},
	} {
		near("normalCDF", normalCDF(c.x), c.want, 1e-14)
	}
	if !math.IsNaN(studentTCDF(1, 0)) || !math.IsNaN(studentTQuantile(1.5, 3)) {
		t.Error("invalid arguments must give NaN")
	}
	if studentTQuantile(0, 4) != math.Inf(-1) || studentTQuantile(1, 4) != math.Inf(1) {
		t.Error("p = 0 and p = 1 must give ∓∞")
	}
	// The quantile inverts the CDF.
	for _, nu := range []float64{1, 2.5, 9, 120} {
		for _, p := range []float64{0.001, 0.1, 0.6, 0.99} {
			near("CDF(Quantile(p))", studentTCDF(studentTQuantile(p, nu), nu), p, 1e-9)
		}
	}
}
