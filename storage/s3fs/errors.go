package s3fs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/aws/smithy-go"
	"gocloud.dev/gcerrors"
)

// ErrUnavailable wraps every failure that is the object store's, not the
// request's: it cannot be reached, answers with a server error, or
// refuses davd's credentials. Clients get 503 for it.
var ErrUnavailable = errors.New("the object store is unavailable")

// explain turns an SDK error into one readable line: the S3 error code
// and message when the server answered, the network error when it did
// not.
func explain(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket", "NotFound":
			return fmt.Errorf("%w: the bucket does not exist (%s)", ErrUnavailable, ae.ErrorCode())
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden":
			return fmt.Errorf("%w: the credentials were refused (%s: %s); davd reads them from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the shared AWS configuration", ErrUnavailable, ae.ErrorCode(), ae.ErrorMessage())
		}
		return fmt.Errorf("%w: %s: %s", ErrUnavailable, ae.ErrorCode(), ae.ErrorMessage())
	}
	if strings.Contains(err.Error(), "get credentials") {
		return fmt.Errorf("%w: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE", ErrUnavailable)
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return fmt.Errorf("%w: %v", ErrUnavailable, ne)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

// pathErr turns an error of a request about name into what afero callers
// expect: os.ErrNotExist for a missing object, os.ErrExist for a failed
// conditional write, the context's error when the caller stopped, and
// ErrUnavailable for the rest.
func pathErr(op, name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded) && !isTimeout(err):
		return &os.PathError{Op: op, Path: name, Err: context.Canceled}
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchBucket" {
			break
		}
		return &os.PathError{Op: op, Path: name, Err: os.ErrNotExist}
	case gcerrors.FailedPrecondition:
		return &os.PathError{Op: op, Path: name, Err: os.ErrExist}
	case gcerrors.Canceled:
		return &os.PathError{Op: op, Path: name, Err: context.Canceled}
	}
	return &os.PathError{Op: op, Path: name, Err: explain(err)}
}

// isTimeout reports whether err is a network timeout (the store did not
// answer), as opposed to the caller's deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
