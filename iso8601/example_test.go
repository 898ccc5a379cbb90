package iso8601_test

import (
	"fmt"
	"time"

	"github.com/horae-scheduler/horae/iso8601"
)

func ExampleParse() {
	iv, err := iso8601.Parse("R5/2026-01-31T10:00Z/P1M")
	if err != nil {
		fmt.Println(err)
		return
	}
	n, bounded := iv.Repeats()
	fmt.Println(iv, n, bounded)

	_, err = iso8601.Parse("R/2026-02-30T00:00:00Z/P1D")
	fmt.Println(err)
	// Output:
	// R5/2026-01-31T10:00:00Z/P1M 5 true
	// start: day 30 out of range for February 2026 (column 11)
}

func ExampleSchedule_Next() {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s, err := iso8601.MustParse("R/2026-03-28T02:30:00/P1D").Bind(berlin, time.Time{})
	if err != nil {
		fmt.Println(err)
		return
	}
	t := time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC)
	for range 3 {
		t, _ = s.Next(t)
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// 2026-03-28T02:30:00+01:00
	// 2026-03-29T03:30:00+02:00
	// 2026-03-30T02:30:00+02:00
}
