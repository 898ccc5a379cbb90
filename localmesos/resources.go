package localmesos

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// PortRange is an inclusive range of ports, like Mesos's Value.Range.
type PortRange struct {
	Begin, End uint64
}

// resources is the subset of Mesos resources localmesos offers: unreserved
// cpus, mem, disk and ports. Scalars are kept in thousandths, as Mesos's
// fixed-point arithmetic does, so sums never drift.
type resources struct {
	cpus, mem, disk int64 // thousandths
	ports           []PortRange
}

func milli(f float64) int64     { return int64(math.Round(f * 1000)) }
func fromMilli(v int64) float64 { return float64(v) / 1000 }
func (r resources) empty() bool { return r.cpus <= 0 && r.mem <= 0 && r.disk <= 0 && len(r.ports) == 0 }

func (r resources) add(o resources) resources {
	return resources{cpus: r.cpus + o.cpus, mem: r.mem + o.mem, disk: r.disk + o.disk,
		ports: normalizePorts(append(append([]PortRange(nil), r.ports...), o.ports...))}
}

func (r resources) sub(o resources) resources {
	return resources{cpus: r.cpus - o.cpus, mem: r.mem - o.mem, disk: r.disk - o.disk,
		ports: subtractPorts(r.ports, o.ports)}
}

// contains reports whether o fits inside r.
func (r resources) contains(o resources) bool {
	return o.cpus <= r.cpus && o.mem <= r.mem && o.disk <= r.disk && portsContain(r.ports, o.ports)
}

func normalizePorts(in []PortRange) []PortRange {
	if len(in) == 0 {
		return nil
	}
	s := append([]PortRange(nil), in...)
	sort.Slice(s, func(i, j int) bool { return s[i].Begin < s[j].Begin })
	out := []PortRange{s[0]}
	for _, p := range s[1:] {
		last := &out[len(out)-1]
		if p.Begin <= last.End+1 {
			if p.End > last.End {
				last.End = p.End
			}
			continue
		}
		out = append(out, p)
	}
	return out
}

func subtractPorts(a, b []PortRange) []PortRange {
	cur := normalizePorts(a)
	for _, rm := range b {
		var next []PortRange
		for _, p := range cur {
			if rm.End < p.Begin || rm.Begin > p.End {
				next = append(next, p)
				continue
			}
			if rm.Begin > p.Begin {
				next = append(next, PortRange{p.Begin, rm.Begin - 1})
			}
			if rm.End < p.End {
				next = append(next, PortRange{rm.End + 1, p.End})
			}
		}
		cur = next
	}
	return cur
}

func portsContain(have, want []PortRange) bool {
	have = normalizePorts(have)
	for _, w := range want {
		ok := false
		for _, h := range have {
			if w.Begin >= h.Begin && w.End <= h.End {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// parseResources reads task or executor resources. Only unreserved cpus,
// mem, disk and ports can be satisfied by localmesos; anything else is an
// error naming the resource.
func parseResources(rs []mesos.Resource) (resources, error) {
	var out resources
	for _, r := range rs {
		if r.Role != nil && *r.Role != "*" || r.Reservation != nil || len(r.Reservations) > 0 {
			return out, fmt.Errorf("resource %s: reserved resources are not offered by localmesos", r.Name)
		}
		switch r.Name {
		case "cpus", "mem", "disk":
			if r.Scalar == nil || r.GetType() != mesos.SCALAR {
				return out, fmt.Errorf("resource %s: expecting a SCALAR value", r.Name)
			}
			v := milli(r.Scalar.Value)
			if v < 0 || math.IsNaN(r.Scalar.Value) {
				return out, fmt.Errorf("resource %s: negative or invalid value", r.Name)
			}
			switch r.Name {
			case "cpus":
				out.cpus += v
			case "mem":
				out.mem += v
			default:
				out.disk += v
			}
		case "ports":
			if r.Ranges == nil || r.GetType() != mesos.RANGES {
				return out, fmt.Errorf("resource ports: expecting a RANGES value")
			}
			for _, rg := range r.Ranges.Range {
				if rg.End < rg.Begin {
					return out, fmt.Errorf("resource ports: range %d-%d is reversed", rg.Begin, rg.End)
				}
				out.ports = append(out.ports, PortRange{rg.Begin, rg.End})
			}
			out.ports = normalizePorts(out.ports)
		default:
			return out, fmt.Errorf("resource %s: not offered by localmesos", r.Name)
		}
	}
	return out, nil
}

// toMesos renders resources in Mesos's order. offerOrder puts ports first
// (as in offers); otherwise cpus, mem, disk, ports (as in agent_info).
// withRole adds the deprecated "role":"*"; alloc adds allocation_info.
func (r resources) toMesos(offerOrder, withRole bool, alloc string) []mesos.Resource {
	var out []mesos.Resource
	decorate := func(res mesos.Resource) mesos.Resource {
		if withRole {
			res.Role = strPtr("*")
		}
		if alloc != "" {
			res.AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(alloc)}
		}
		return res
	}
	scalar := func(name string, v int64) {
		if v <= 0 {
			return
		}
		t := mesos.SCALAR
		out = append(out, decorate(mesos.Resource{Name: name, Type: &t, Scalar: &mesos.Value_Scalar{Value: fromMilli(v)}}))
	}
	ports := func() {
		if len(r.ports) == 0 {
			return
		}
		t := mesos.RANGES
		rg := make([]mesos.Value_Range, 0, len(r.ports))
		for _, p := range r.ports {
			rg = append(rg, mesos.Value_Range{Begin: p.Begin, End: p.End})
		}
		out = append(out, decorate(mesos.Resource{Name: "ports", Type: &t, Ranges: &mesos.Value_Ranges{Range: rg}}))
	}
	if offerOrder {
		ports()
	}
	scalar("cpus", r.cpus)
	scalar("mem", r.mem)
	scalar("disk", r.disk)
	if !offerOrder {
		ports()
	}
	return out
}

// String renders resources as Mesos prints them in TASK_ERROR messages:
// "cpus(allocated: *):0.1; mem(allocated: *):32".
func (r resources) String() string {
	var parts []string
	add := func(name string, v int64) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%s(allocated: *):%s", name, strconv.FormatFloat(fromMilli(v), 'f', -1, 64)))
		}
	}
	add("cpus", r.cpus)
	add("mem", r.mem)
	add("disk", r.disk)
	if len(r.ports) > 0 {
		var rs []string
		for _, p := range r.ports {
			rs = append(rs, fmt.Sprintf("%d-%d", p.Begin, p.End))
		}
		parts = append(parts, "ports(allocated: *):["+strings.Join(rs, ", ")+"]")
	}
	return strings.Join(parts, "; ")
}

// stripRole returns resources as the agent hands them to executors:
// allocation_info kept, the deprecated role removed.
func stripRole(rs []mesos.Resource, alloc string) []mesos.Resource {
	out := make([]mesos.Resource, len(rs))
	for i, r := range rs {
		r.Role = nil
		if r.AllocationInfo == nil && alloc != "" {
			r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: strPtr(alloc)}
		}
		out[i] = r
	}
	return out
}

func strPtr(s string) *string { return &s }
