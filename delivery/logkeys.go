package delivery

// Log attribute keys shared by every log line about a project's work, so
// that an operator can search the log by any of them.
const (
	LogProjectID  = "project_id"
	LogTenantID   = "tenant_id"
	LogEndpointID = "endpoint_id"
	LogDeliveryID = "delivery_id"
	LogEventID    = "event_id"
	LogErrorClass = "error_class"
)
