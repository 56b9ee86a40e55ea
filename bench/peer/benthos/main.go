// Command benthos is Benthos v4.27.0 with only the component bundles Headwater's peer benchmark
// uses (bench/peer/): pure (mapping, unarchive, catch, branch, sync_response), io (http_server)
// and kafka (kafka_franz). The full distribution's hundreds of connectors would only lengthen the
// build; the request path is the same code either way.
package main

import (
	"context"

	"github.com/benthosdev/benthos/v4/public/service"

	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/kafka"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
)

func main() {
	service.RunCLI(context.Background())
}
