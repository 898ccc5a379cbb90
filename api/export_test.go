package api

import "github.com/horae-scheduler/horae/catalog"

// NewEngineCommander exports the real-engine test Commander to api_test.
func NewEngineCommander(cat *catalog.Catalog) Commander { return newEngineCommander(cat, nil) }
