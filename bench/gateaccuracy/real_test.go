package main

import (
	"reflect"
	"testing"
)

func TestParseCounts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want counts
		bad  bool
	}{
		{in: "5", want: counts{"A": 5, "B10": 5, "B20": 5}},
		{in: "A=100, B10=40,B20=0", want: counts{"A": 100, "B10": 40, "B20": 0}},
		{in: "A=3", want: counts{"A": 3}},
		{in: "A=0,B5=30", want: counts{"A": 0, "B5": 30}},
		{in: "C=3", bad: true},
		{in: "A=-1", bad: true},
		{in: "A", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseCounts(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && !reflect.DeepEqual(got, tc.want)) {
			t.Errorf("parseCounts(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestHeadTargetIsNeverBasesProcess(t *testing.T) {
	for _, b := range builds {
		if headTarget(b.name) == "A" {
			t.Errorf("head of %s jobs hits the base side's process", b.name)
		}
	}
}
