SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)
