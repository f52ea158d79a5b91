package processing

// TickerExited reports whether no 102 of pw is scheduled or being sent
// (true when 102s were disabled). It is the test hook for "nothing of this
// request remains after Finish".
func TickerExited(pw *Writer) bool {
	if !pw.enabled {
		return true
	}
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.final && (pw.timer == nil || !pw.timer.Stop())
}
