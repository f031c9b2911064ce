module corkboard

go 1.26.8

require (
	go.mongodb.org/mongo-driver/v2 v2.10.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
)
