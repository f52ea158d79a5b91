package processing

// TickerExited reports whether pw's ticker goroutine has returned (true when
// 102s were disabled and there never was one). It is the test hook for "no
// goroutine of this request remains after Finish".
func TickerExited(pw *Writer) bool {
	if pw.done == nil {
		return true
	}
	select {
	case <-pw.done:
		return true
	default:
		return false
	}
}
