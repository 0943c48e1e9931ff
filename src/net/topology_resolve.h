// Pass 2 of the topology parser: names unique per kind, every reference resolves.
// Internal to the parser. Not thread-safe (writes into the reader's error list).
#pragma once

#include "net/model.h"
#include "net/yaml_reader.h"

namespace lifeline::net {

void ResolveReferences(const Topology& t, YamlReader* r);

}  // namespace lifeline::net
